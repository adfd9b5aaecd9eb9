"""Circuit breaker per provider: stop calling a provider that keeps failing, probe it later.

Deliberately in process (one per provider per process, never shared through Redis): a breaker
records what *this* process has seen, each process finds out on its own within
``failure_threshold`` calls, and a shared breaker would add a network hop to every call while
a stale shared state could keep a healthy process from probing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

BreakerState = Literal["closed", "open", "half_open"]

# While a probe is out, callers are told to come back after this long (or the cooldown if shorter).
PROBE_RETRY_SECONDS = 1.0


class CircuitBreaker:
    """closed → open after ``failure_threshold`` consecutive failures; after ``cooldown_seconds``
    one probe goes through (half_open); its success closes the breaker, its failure re-opens it.
    A probe whose outcome is never recorded is given up after one more cooldown.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown_seconds < 0:
            raise ValueError("cooldown_seconds must not be negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None  # on self._clock
        self._opened_wall: datetime | None = None
        self._probe_started: float | None = None
        self.times_opened = 0

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._probe_started is not None:
            return "half_open"
        return "half_open" if self._cooldown_left() <= 0 else "open"

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far (reset by any success)."""
        return self._failures

    @property
    def retry_after(self) -> float:
        """Seconds until allow() may say yes again (0 when it would now)."""
        if self._opened_at is None:
            return 0.0
        if self._probe_started is not None:
            probe_expires = self._probe_started + self.cooldown_seconds - self._clock()
            return max(0.0, min(PROBE_RETRY_SECONDS, self.cooldown_seconds, probe_expires))
        return max(0.0, self._cooldown_left())

    def allow(self) -> bool:
        if self._opened_at is None:
            return True
        now = self._clock()
        if self._probe_started is not None:
            if now - self._probe_started < self.cooldown_seconds:
                return False  # one probe at a time
            self._probe_started = None  # that probe never reported back: try another
        if self._cooldown_left(now) > 0:
            return False
        self._probe_started = now
        return True

    def record_success(self) -> None:
        self._failures = 0
        if self._opened_at is not None and self._probe_started is not None:
            self._close()
        # A success reported while open comes from a call begun before opening: the cooldown holds.

    def record_failure(self) -> None:
        self._failures += 1
        if self._opened_at is None:
            if self._failures >= self.failure_threshold:
                self._open()
        elif self._probe_started is not None:
            self._open()  # the probe failed: a fresh cooldown

    def reset(self) -> None:
        self._close()

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "failures": self._failures,
            "consecutive_failures": self._failures,
            "failure_threshold": self.failure_threshold,
            "cooldown_seconds": self.cooldown_seconds,
            "opened_at": self._opened_wall.isoformat() if self._opened_wall else None,
            "retry_after": round(self.retry_after, 3),
            "times_opened": self.times_opened,
        }

    def _open(self) -> None:
        now = self._clock()
        self._opened_at = now
        self._opened_wall = datetime.now(UTC)
        self._probe_started = None
        self.times_opened += 1

    def _close(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._opened_wall = None
        self._probe_started = None

    def _cooldown_left(self, now: float | None = None) -> float:
        if self._opened_at is None:
            return 0.0
        current = self._clock() if now is None else now
        return self._opened_at + self.cooldown_seconds - current
