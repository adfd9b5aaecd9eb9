"""Prometheus metrics: every metric family of quantdesk and the small functions that record them.

The only place metric names live; the rest of the code calls the functions below. Label values
are route templates, methods, status codes, job kinds, outcomes, providers, data types and
queues, each
checked against a closed set or an identifier pattern: never ids, user data or secrets.

Two ways to export:

- one process (``quantdesk serve``, embedded or one process per container): the default registry,
  rendered by ``GET /metrics`` after the scrape-time gauges were refreshed (``system.scrape``);
- multiprocess mode (a Celery node's prefork children, or ``serve --workers N``): every process
  writes its samples to files in one directory per node (``PROMETHEUS_MULTIPROC_DIR``) and the
  process that answers the scrape merges them (``enable_multiprocess``, ``MetricsServer``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Awaitable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    make_wsgi_app,
    multiprocess,
    values,
)
from prometheus_client.exposition import choose_encoder

from quantdesk import __version__
from quantdesk.kit.errors import RateLimited

T = TypeVar("T")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "unmatched"
OTHER = "other"

# The *_created series double the number of series and no dashboard or alert reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# prometheus-client's file names: counter_1234.db, histogram_1234.db, gauge_livesum_1234.db...
_MULTIPROC_FILE = re.compile(r"^(counter|gauge|histogram|summary)(_[a-z]+)?_\d+\.db$")
_ROUTE = re.compile(r"^/[A-Za-z0-9_./{}:-]{0,200}$")
JOB_OUTCOMES = frozenset({"succeeded", "failed", "cancelled", "retry", "skipped"})
PROVIDER_OUTCOMES = frozenset(
    {"ok", "error", "throttled", "quota_exceeded", "unavailable", "auth", "unsupported"}
)
PROVIDER_SKIP_REASONS = frozenset({"unsupported", "rate_limited", "breaker_open"})
LOGIN_OUTCOMES = frozenset({"ok", "failed", "locked_out"})
MARKET_REFRESH_OUTCOMES = frozenset({"completed", "failed", "retried", "refused", "lease_expired"})
QUEUE_STATUSES = frozenset({"pending", "processing", "completed", "failed"})
QUOTA_WINDOWS = ("minute", "day")
UNROUTED = "unrouted"  # a queued refresh no provider was chosen for yet
# Data-type names are the registry's (code-defined, e.g. financial-statements): hyphens allowed.
_DATA_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
BREAKER_STATES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}

LoginOutcome = Literal["ok", "failed", "locked_out"]

# --- HTTP ---------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "quantdesk_http_requests_total",
    "HTTP requests by route template, method and status code",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "quantdesk_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# --- jobs ---------------------------------------------------------------------------------------
JOBS = Counter(
    "quantdesk_jobs_total",
    "Job runs by kind and outcome (succeeded, failed, cancelled, retry, skipped)",
    ["kind", "outcome"],
)
JOB_DURATION = Histogram(
    "quantdesk_job_duration_seconds",
    "Time a job's handler ran, by kind and outcome",
    ["kind", "outcome"],
    buckets=(0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0),
)
JOBS_QUEUE_DEPTH = Gauge(
    "quantdesk_jobs_queue_depth",
    "Pending operations per queue (read from the database at scrape time)",
    ["queue"],
    multiprocess_mode="mostrecent",
)
JOBS_RUNNING = Gauge(
    "quantdesk_jobs_running",
    "Operations running under a live lease (read from the database at scrape time)",
    multiprocess_mode="mostrecent",
)

# --- market-data providers ----------------------------------------------------------------------
PROVIDER_CALLS = Counter(
    "quantdesk_provider_calls_total",
    "Calls made to a market-data provider, by outcome (ok, or the kind of error)",
    ["provider", "outcome"],
)
PROVIDER_ERRORS = Counter(
    "quantdesk_provider_errors_total",
    "Provider calls that failed, by kind of error ('unsupported' is not an error)",
    ["provider", "kind"],
)
PROVIDER_SKIPPED = Counter(
    "quantdesk_provider_skipped_total",
    "Provider calls not made: breaker open, rate limit spent, or capability unsupported",
    ["provider", "reason"],
)
PROVIDER_DURATION = Histogram(
    "quantdesk_provider_call_duration_seconds",
    "Latency of calls made to a provider",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PROVIDER_BREAKER = Gauge(
    "quantdesk_provider_breaker_state",
    "Circuit breaker of a provider: 0 closed, 1 half open, 2 open (worst live process)",
    ["provider"],
    multiprocess_mode="livemax",
)
PROVIDER_TOKENS = Gauge(
    "quantdesk_provider_rate_limit_tokens",
    "Calls left in a provider's per-minute window (the persisted quota ledger)",
    ["provider"],
    multiprocess_mode="mostrecent",
)
PROVIDER_QUOTA_USED = Gauge(
    "quantdesk_provider_quota_used",
    "Calls debited to a provider in its window (minute: any 60 s to now; day: since its reset)",
    ["provider", "window"],
    multiprocess_mode="mostrecent",
)
PROVIDER_QUOTA_LEFT = Gauge(
    "quantdesk_provider_quota_left",
    "Calls left in a provider's window (absent when the window has no limit)",
    ["provider", "window"],
    multiprocess_mode="mostrecent",
)

# --- the market-data engine ---------------------------------------------------------------------
MARKET_REFRESHES = Counter(
    "quantdesk_market_refreshes_total",
    "Refresh-queue calls ended by a worker, by outcome: completed, failed (for good), retried "
    "(pending again after a failure), refused (the provider's 429 or plan limit), lease_expired",
    ["provider", "data_type", "outcome"],
)
MARKET_QUEUE_DEPTH = Gauge(
    "quantdesk_market_queue_depth",
    "Refresh-queue rows per status, provider ('unrouted': none chosen yet) and data type "
    "(read from the database at scrape time; finished rows until they are trimmed)",
    ["status", "provider", "data_type"],
    multiprocess_mode="mostrecent",
)
MARKET_QUEUE_OLDEST_DUE = Gauge(
    "quantdesk_market_queue_oldest_due_seconds",
    "How long the longest-due pending refresh has waited past its run time (0: none is due)",
    multiprocess_mode="mostrecent",
)
MARKET_WATCHED_PAIRS = Gauge(
    "quantdesk_market_watched_pairs",
    "(symbol, data type) pairs someone watches now",
    multiprocess_mode="mostrecent",
)
MARKET_FRESH_RATIO = Gauge(
    "quantdesk_market_fresh_ratio",
    "Share of the watched pairs whose stored value is within its refresh interval (1 when "
    "nothing is watched)",
    multiprocess_mode="mostrecent",
)

# --- auth ---------------------------------------------------------------------------------------
LOGIN_ATTEMPTS = Counter(
    "quantdesk_login_attempts_total",
    "Login attempts: ok, failed (wrong credentials) or locked_out (the login rate limit's 429)",
    ["outcome"],
)

# --- AI agents (MCP tools) -----------------------------------------------------------------------
MCP_TOOL_OUTCOMES = frozenset({"ok", "denied", "rejected", "not_found", "error", "unknown_tool"})
MCP_TOOL_CALLS = Counter(
    "quantdesk_mcp_tool_calls_total",
    "AI tool calls (MCP or stdio) by tool (an operation id) and outcome: ok, denied (401/403), "
    "not_found (404), rejected (another 4xx), error (5xx or unreachable), unknown_tool",
    ["tool", "outcome"],
)
MCP_TOOL_DURATION = Histogram(
    "quantdesk_mcp_tool_call_duration_seconds",
    "Time an AI tool call took, through the API, by tool",
    ["tool"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

# --- database, activity, the scrape itself -------------------------------------------------------
DB_POOL_IN_USE = Gauge(
    "quantdesk_db_pool_connections_in_use",
    "Database connections checked out of this process's pool",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "quantdesk_db_pool_size",
    "Connections this process's pool keeps open (overflow comes on top)",
    multiprocess_mode="livesum",
)
ACTIVITY_ACTIVE = Gauge(
    "quantdesk_activity_active",
    "1 while the service is active (events over the activity window), 0 while idle",
    multiprocess_mode="livemax",
)
ACTIVITY_EVENTS = Gauge(
    "quantdesk_activity_events",
    "Events counted by the activity monitor over its sliding window, by kind",
    ["kind"],
    multiprocess_mode="livesum",
)
PROBE_SUCCESS = Gauge(
    "quantdesk_metrics_probe_success",
    "1 when a scrape-time probe (jobs, providers) answered in time, 0 when it failed",
    ["probe"],
    multiprocess_mode="livemin",
)
BUILD_INFO = Gauge(
    "quantdesk_build_info", "The running version", ["version"], multiprocess_mode="max"
)
BUILD_INFO.labels(version=__version__).set(1)


def _identifier(value: str) -> str:
    """A code-defined name (job kind, provider, queue) as a label; anything else is "other"."""
    return value if _IDENTIFIER.match(value) else OTHER


def _one_of(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


def route_label(template: str | None) -> str:
    """The matched route template ("/api/v1/universes/{universe_id}"), never a raw path."""
    if template is None:
        return UNMATCHED_ROUTE
    return template if _ROUTE.match(template) else OTHER


def method_label(method: str) -> str:
    method = method.upper()
    return method if method in _METHODS else OTHER


def record_request(route: str | None, method: str, status: int, seconds: float) -> None:
    route_value, method_value = route_label(route), method_label(method)
    HTTP_REQUESTS.labels(route=route_value, method=method_value, status=str(status)).inc()
    HTTP_DURATION.labels(route=route_value, method=method_value).observe(seconds)


def job_finished(kind: str, outcome: str, seconds: float | None) -> None:
    """One run of a job ended; ``seconds`` is None when its handler never ran."""
    labels = {"kind": _identifier(kind), "outcome": _one_of(outcome, JOB_OUTCOMES)}
    JOBS.labels(**labels).inc()
    if seconds is not None:
        JOB_DURATION.labels(**labels).observe(seconds)


def set_jobs_backlog(
    pending_by_queue: Mapping[str, int], queues: Iterable[str], running: int
) -> None:
    """Every known queue gets a value, so a drained queue reads 0 rather than its last depth."""
    for queue in {*queues, *pending_by_queue}:
        JOBS_QUEUE_DEPTH.labels(queue=_identifier(queue)).set(pending_by_queue.get(queue, 0))
    JOBS_RUNNING.set(running)


def _breaker(provider: str, state: str) -> None:
    PROVIDER_BREAKER.labels(provider=provider).set(BREAKER_STATES.get(state, 0.0))


def provider_call(provider: str, outcome: str, seconds: float, breaker_state: str) -> None:
    """A call made to ``provider``: ``outcome`` is "ok" or its error kind."""
    name, result = _identifier(provider), _one_of(outcome, PROVIDER_OUTCOMES)
    PROVIDER_CALLS.labels(provider=name, outcome=result).inc()
    if result not in ("ok", "unsupported"):
        PROVIDER_ERRORS.labels(provider=name, kind=result).inc()
    PROVIDER_DURATION.labels(provider=name).observe(seconds)
    _breaker(name, breaker_state)


def provider_skipped(provider: str, reason: str, breaker_state: str) -> None:
    name = _identifier(provider)
    PROVIDER_SKIPPED.labels(provider=name, reason=_one_of(reason, PROVIDER_SKIP_REASONS)).inc()
    _breaker(name, breaker_state)


def provider_state(provider: str, breaker_state: str, quota: dict[str, Any] | None) -> None:
    """Scrape time: a provider's breaker as it is now, and its quota windows (if limited)."""
    name = _identifier(provider)
    _breaker(name, breaker_state)
    if not quota:
        return
    for window in ("minute", "day"):
        found = quota.get(window) or {}
        if found.get("used") is not None:
            PROVIDER_QUOTA_USED.labels(provider=name, window=window).set(found["used"])
        if found.get("left") is not None:
            PROVIDER_QUOTA_LEFT.labels(provider=name, window=window).set(found["left"])
            if window == "minute":
                PROVIDER_TOKENS.labels(provider=name).set(found["left"])


def _data_type(value: str) -> str:
    return value if _DATA_TYPE.match(value) else OTHER


def market_refresh(provider: str | None, data_type: str, outcome: str, count: int = 1) -> None:
    """``count`` refresh-queue rows of (provider, data type) ended their attempt this way (one
    of ``MARKET_REFRESH_OUTCOMES``; provider None: not routed yet). The engine's workers call
    it after the transaction that recorded the outcome has committed."""
    if count < 1:
        return
    MARKET_REFRESHES.labels(
        provider=_identifier(provider) if provider else UNROUTED,
        data_type=_data_type(data_type),
        outcome=_one_of(outcome, MARKET_REFRESH_OUTCOMES),
    ).inc(count)


# Label sets of the queue depth set by earlier scrapes: one that empties reads 0, not its last.
_market_depth_seen: set[tuple[str, str, str]] = set()


def set_market_engine(
    *,
    depth: Iterable[tuple[str, str | None, str, int]],
    oldest_due_seconds: float | None,
    watched_pairs: int,
    fresh_ratio: float,
) -> None:
    """Scrape time: the engine as ``market.engine.status`` read it. ``depth``: (status,
    provider, data type, rows). The quota windows are ``quantdesk_provider_quota_used/left``
    (the ledger's probe), not repeated here."""
    current: dict[tuple[str, str, str], int] = {}
    for status, provider, data_type, rows in depth:
        labels = (
            _one_of(status, QUEUE_STATUSES),
            _identifier(provider) if provider else UNROUTED,
            _data_type(data_type),
        )
        current[labels] = current.get(labels, 0) + rows
    for labels in _market_depth_seen | set(current):
        status, provider, data_type = labels
        MARKET_QUEUE_DEPTH.labels(status=status, provider=provider, data_type=data_type).set(
            current.get(labels, 0)
        )
    _market_depth_seen.update(current)
    MARKET_QUEUE_OLDEST_DUE.set(oldest_due_seconds or 0.0)
    MARKET_WATCHED_PAIRS.set(watched_pairs)
    MARKET_FRESH_RATIO.set(fresh_ratio)


def login_attempt(outcome: LoginOutcome) -> None:
    LOGIN_ATTEMPTS.labels(outcome=_one_of(outcome, LOGIN_OUTCOMES)).inc()


async def count_lockout(attempt: Awaitable[T]) -> T:
    """Await the login rate limiter's check; its 429 is counted as a lockout, then re-raised."""
    try:
        return await attempt
    except RateLimited:
        login_attempt("locked_out")
        raise


def mcp_tool_call(tool: str, outcome: str, seconds: float) -> None:
    """One AI tool call ended; ``tool`` is a catalogue name (unknown ones are "other")."""
    name = _identifier(tool)
    MCP_TOOL_CALLS.labels(tool=name, outcome=_one_of(outcome, MCP_TOOL_OUTCOMES)).inc()
    MCP_TOOL_DURATION.labels(tool=name).observe(seconds)


def set_db_pool(in_use: int, size: int) -> None:
    DB_POOL_IN_USE.set(in_use)
    DB_POOL_SIZE.set(size)


def set_activity(active: bool, events: Mapping[str, int]) -> None:
    ACTIVITY_ACTIVE.set(1 if active else 0)
    for kind, count in events.items():
        ACTIVITY_EVENTS.labels(kind=_identifier(kind)).set(count)


def probe_result(probe: str, ok: bool) -> None:
    PROBE_SUCCESS.labels(probe=_identifier(probe)).set(1 if ok else 0)


# --- export -------------------------------------------------------------------------------------
def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: this process's registry, or every process's files in multiprocess."""
    if multiprocess_directory() is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def render(accept: str | None) -> tuple[bytes, str]:
    """The exposition body and its content type, in the format the scraper asked for."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(scrape_registry()), content_type


def enable_multiprocess(directory: Path) -> None:
    """Record to per-process files in ``directory`` (its old metrics files removed) from now on.

    Call it in a node's main process before any labelled sample is recorded (before the pool
    forks); children inherit the setting.
    """
    directory.mkdir(parents=True, exist_ok=True)
    # A previous run's files would be merged into this one's figures; only they are removed.
    for stale in directory.glob("*.db"):
        if _MULTIPROC_FILE.match(stale.name):
            stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus-client picks its value class when imported; samples created later use this one.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def mark_process_dead(pid: int | None = None) -> None:
    """Drop a finished process's live gauges (multiprocess mode; a no-op otherwise)."""
    directory = multiprocess_directory()
    if directory is not None:
        multiprocess.mark_process_dead(pid if pid is not None else os.getpid(), directory)  # type: ignore[no-untyped-call]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None  # a scrape every few seconds is not worth a log line


class MetricsServer:
    """A small HTTP server for a node's metrics: binds at once, serves from ``start()``.

    Built after ``enable_multiprocess``, it merges every process's files at each scrape.

    Binding early makes a taken port fail the node's start; serving later keeps the thread out of
    the processes Celery forks at start-up.
    """

    def __init__(self, host: str, port: int) -> None:
        self._server: WSGIServer = make_server(
            host, port, make_wsgi_app(scrape_registry()), handler_class=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="metrics-server", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
