"""Redis as an optional, fail-soft layer: short timeouts, one warning per outage, self-healing.

Callers run each Redis operation through :class:`RedisGuard`; when Redis is down the guard raises
:class:`RedisUnavailable` at once (without touching the network between retries), and the caller
answers from its in-process layer instead. No request ever waits on a dead Redis for longer than
one socket timeout, and at most one request per back-off interval pays even that.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from quantdesk.kit.logging import get_logger

T = TypeVar("T")

# Every way a Redis call fails at the transport or server level (timeouts are OSError subclasses).
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError)

DEFAULT_SOCKET_TIMEOUT_SECONDS = 0.5
DEFAULT_RETRY_INTERVAL_SECONDS = 1.0

_log = get_logger("quantdesk.redis")


class RedisUnavailable(Exception):
    """Redis cannot answer now; use the in-process layer."""


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def connect(url: str, *, socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_SECONDS) -> Redis:
    """A client that fails fast: short connect/read timeouts and no hidden retry loop."""
    client: Redis = Redis.from_url(
        url,
        socket_connect_timeout=socket_timeout,
        socket_timeout=socket_timeout,
        # redis-py retries up to 10 times by default; the guard's back-off replaces that.
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )
    return client


class RedisGuard:
    """One Redis client plus the outage state of the component that uses it.

    The first failure of an outage logs one WARNING and starts a back-off: calls during it fail
    immediately with RedisUnavailable. After ``retry_interval`` one call is let through as a probe;
    its success logs INFO "redis reconnected" and ends the outage.
    """

    def __init__(
        self,
        url: str,
        *,
        component: str,
        retry_interval: float = DEFAULT_RETRY_INTERVAL_SECONDS,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = connect(url, socket_timeout=socket_timeout)
        self.component = component
        self.target = redact_url(url)
        self._retry_interval = retry_interval
        self._clock = clock
        self._down_since: float | None = None
        self._retry_at = 0.0
        self.errors = 0  # calls that reached Redis and failed
        self.skipped = 0  # calls answered locally without trying, during an outage's back-off
        self.outages = 0

    @property
    def available(self) -> bool:
        return self._down_since is None

    async def run(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        """Run ``operation`` against Redis, or raise RedisUnavailable."""
        probing = self._down_since is not None
        if probing:
            now = self._clock()
            if now < self._retry_at:
                self.skipped += 1
                raise RedisUnavailable(self.component)
            # Claim the probe: concurrent callers keep falling back until it has answered.
            self._retry_at = now + self._retry_interval
        try:
            result = await operation(self.client)
        except REDIS_FAILURES as exc:
            self.errors += 1
            self._mark_down(exc)
            raise RedisUnavailable(self.component) from exc
        # Only a call started during the outage ends it; a straggler from before proves nothing.
        if probing and self._down_since is not None:
            outage = self._clock() - self._down_since
            self._down_since = None
            _log.info(
                "redis reconnected",
                component=self.component,
                target=self.target,
                outage_seconds=round(outage, 3),
            )
        return result

    def _mark_down(self, exc: BaseException) -> None:
        now = self._clock()
        self._retry_at = now + self._retry_interval
        if self._down_since is not None:
            return
        self._down_since = now
        self.outages += 1
        _log.warning(
            "redis unavailable, using the in-process layer until it is back",
            component=self.component,
            target=self.target,
            error=f"{type(exc).__name__}: {exc}",
            retry_interval_seconds=self._retry_interval,
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "available": self.available,
            "errors": self.errors,
            "skipped": self.skipped,
            "outages": self.outages,
        }

    async def aclose(self) -> None:
        await self.client.aclose()
