"""The activity monitor: is the service in use right now (``active``) or not (``idle``)?

Events by kind (HTTP requests, logins, trading, watching) are counted over a sliding window in a
fixed number of time buckets, so memory stays the same however busy the service gets. The service
becomes active once the window holds ``active_threshold`` events and idle again only when it holds
fewer than ``idle_threshold`` (hysteresis: a refresh loop keyed on it does not flap).

In process, per API process: behind a load balancer each process judges from the traffic it
sees. The HTTP middleware records requests, auth records logins, and the trading and watching
domains call ``record("trading")`` / ``record("watching")``; the market-data engine asks
``is_active()`` to pick its refresh rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Literal

ActivityKind = Literal["request", "login", "trading", "watching"]
ActivityState = Literal["active", "idle"]
KINDS: tuple[ActivityKind, ...] = ("request", "login", "trading", "watching")
BUCKETS = 60


class ActivityMonitor:
    def __init__(
        self,
        *,
        window_seconds: float,
        active_threshold: int,
        idle_threshold: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # to_thread code may record too
        self._buckets: deque[tuple[int, Counter[str]]] = deque()
        self._totals: Counter[str] = Counter()  # the sum of the buckets, kept as they come and go
        self._state: ActivityState = "idle"
        self.window_seconds = 0.0
        self.configure(
            window_seconds=window_seconds,
            active_threshold=active_threshold,
            idle_threshold=idle_threshold,
        )

    def configure(
        self, *, window_seconds: float, active_threshold: int, idle_threshold: int
    ) -> None:
        """New window and thresholds; the events counted are kept unless the window changes."""
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        if not 1 <= idle_threshold <= active_threshold:
            raise ValueError("thresholds must satisfy 1 <= idle_threshold <= active_threshold")
        with self._lock:
            if self.window_seconds != float(window_seconds):
                self._clear()  # bucket numbers depend on the bucket width
            self.window_seconds = float(window_seconds)
            self.active_threshold = active_threshold
            self.idle_threshold = idle_threshold
            self._width = self.window_seconds / BUCKETS

    def record(self, kind: ActivityKind, count: int = 1) -> None:
        with self._lock:
            now = self._bucket_number()
            self._evaluate(now)  # the window may have emptied since anyone last looked
            if not self._buckets or self._buckets[-1][0] != now:
                self._buckets.append((now, Counter()))
            self._buckets[-1][1][kind] += count
            self._totals[kind] += count
            self._evaluate(now)

    def counts(self) -> dict[str, int]:
        """Events in the window by kind, every known kind present."""
        with self._lock:
            return self._counts(self._bucket_number())

    @property
    def state(self) -> ActivityState:
        with self._lock:
            self._evaluate(self._bucket_number())
            return self._state

    def is_active(self) -> bool:
        return self.state == "active"

    def snapshot(self) -> dict[str, Any]:
        """``{"state", "events", "window_seconds", "active_threshold", "idle_threshold"}``."""
        with self._lock:
            now = self._bucket_number()
            self._evaluate(now)
            return {
                "state": self._state,
                "events": self._counts(now),
                "window_seconds": self.window_seconds,
                "active_threshold": self.active_threshold,
                "idle_threshold": self.idle_threshold,
            }

    def reset(self) -> None:
        with self._lock:
            self._clear()
            self._state = "idle"

    def _clear(self) -> None:
        self._buckets.clear()
        self._totals.clear()

    def _bucket_number(self) -> int:
        return math.floor(self._clock() / self._width)

    def _counts(self, now: int) -> dict[str, int]:
        self._expire(now)
        return {kind: self._totals[kind] for kind in KINDS}

    def _expire(self, now: int) -> None:
        while self._buckets and self._buckets[0][0] <= now - BUCKETS:
            _, bucket = self._buckets.popleft()
            self._totals.subtract(bucket)

    def _evaluate(self, now: int) -> None:
        self._expire(now)
        total = sum(self._totals.values())
        if self._state == "idle" and total >= self.active_threshold:
            self._state = "active"
        elif self._state == "active" and total < self.idle_threshold:
            self._state = "idle"


# The process's monitor; create_app sets its window and thresholds from the settings.
_monitor = ActivityMonitor(window_seconds=300, active_threshold=5, idle_threshold=1)


def monitor() -> ActivityMonitor:
    return _monitor


def configure(*, window_seconds: float, active_threshold: int, idle_threshold: int) -> None:
    _monitor.configure(
        window_seconds=window_seconds,
        active_threshold=active_threshold,
        idle_threshold=idle_threshold,
    )


def record(kind: ActivityKind, count: int = 1) -> None:
    """Count an event of ``kind`` (a request, a login, a trade, a watched quote)."""
    _monitor.record(kind, count)


def is_active() -> bool:
    return _monitor.is_active()


def snapshot() -> dict[str, Any]:
    return _monitor.snapshot()
