"""The recording hooks outside HTTP: job outcomes, provider calls, and the scrape-time probes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete

from quantdesk.jobs import repository as jobs_repository
from quantdesk.jobs import service as jobs_service
from quantdesk.jobs.registry import QUEUES
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import run_operation
from quantdesk.kit.config import Settings
from quantdesk.kit.events import InProcessEventBus
from quantdesk.kit.migrations import upgrade
from quantdesk.kit.orm import utcnow
from quantdesk.market.providers.base import (
    Capability,
    Fetcher,
    Provider,
    ProviderUnavailable,
    SymbolInfo,
    SymbolQuery,
)
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import Operation
from quantdesk.system import scrape
from tests.jobs import kinds as _test_kinds  # noqa: F401 - registers test_noop, test_flaky
from tests.jobs.celery import kinds as _celery_kinds  # noqa: F401 - a bulk_validation kind
from tests.jobs.conftest import make_settings


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- jobs ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def private_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database no executor watches: only these tests claim its operations."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('metrics-jobs') / 'jobs.db'}"
    upgrade(url)
    return url


@pytest.fixture
async def resources(private_database_url: str, tmp_path: Path) -> AsyncIterator[JobResources]:
    res = JobResources(make_settings(private_database_url, tmp_path), bus=InProcessEventBus())
    yield res
    async with res.db.transaction(system=True) as session:
        await session.execute(delete(Operation))
    await res.aclose()


async def _request(resources: JobResources, kind: str, **params: Any) -> uuid.UUID:
    async with resources.db.transaction(system=True) as session:
        operation = await jobs_service.request_job(session, kind=kind, owner_id=None, params=params)
        return operation.id


async def _run_until_final(resources: JobResources, operation_id: uuid.UUID) -> list[str]:
    outcomes: list[str] = []
    while not outcomes or outcomes[-1] == "retry":
        await asyncio.sleep(0.25 if outcomes else 0)  # back-off: 0.05 s, then 0.1 s here
        outcomes.append(await run_operation(resources, operation_id, worker_id="metrics-test"))
    return outcomes


async def test_job_outcomes_and_durations_are_counted_by_kind(resources: JobResources) -> None:
    def runs(kind: str, outcome: str) -> float:
        return sample("quantdesk_jobs_total", kind=kind, outcome=outcome)

    def timed(kind: str, outcome: str) -> float:
        return sample("quantdesk_job_duration_seconds_count", kind=kind, outcome=outcome)

    ok, ok_timed = runs("test_noop", "succeeded"), timed("test_noop", "succeeded")
    retry, failed = runs("test_flaky", "retry"), runs("test_flaky", "failed")

    noop = await _request(resources, "test_noop")
    assert await _run_until_final(resources, noop) == ["succeeded"]
    assert await run_operation(resources, noop, worker_id="again") == "skipped"
    flaky = await _request(resources, "test_flaky", failures=99)
    assert await _run_until_final(resources, flaky) == ["retry", "retry", "failed"]

    assert runs("test_noop", "succeeded") == ok + 1
    assert timed("test_noop", "succeeded") == ok_timed + 1
    assert runs("test_flaky", "retry") == retry + 2
    assert runs("test_flaky", "failed") == failed + 1


async def test_queue_depth_counts_pending_rows_per_queue_and_zero_for_empty_ones(
    resources: JobResources,
) -> None:
    for _ in range(3):
        await _request(resources, "test_noop")  # maintenance
    await _request(resources, "test_celery_items", items=1)  # bulk_validation
    running = await _request(resources, "test_noop")
    async with resources.db.transaction(system=True) as session:
        now = utcnow()
        lease_until = now + timedelta(hours=1)
        claimed = await jobs_repository.claim(
            session, operation_id=running, worker_id="w", now=now, lease_until=lease_until
        )
        assert claimed is not None

    await scrape.jobs_backlog(resources.db, statement_seconds=2)

    depths = {queue: sample("quantdesk_jobs_queue_depth", queue=queue) for queue in QUEUES}
    assert depths == {"maintenance": 3.0, "bulk_validation": 1.0, "validation": 0.0}
    assert sample("quantdesk_jobs_running") == 1.0


# --- providers ----------------------------------------------------------------------------------
class _Lookup(Fetcher[SymbolQuery, SymbolInfo]):
    def __init__(self) -> None:
        self.down = False

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": query.symbol}

    async def extract(self, params: dict[str, Any]) -> Any:
        if self.down:
            raise ProviderUnavailable("fmp", "HTTP 503")
        return params["symbol"]

    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        return SymbolInfo(symbol=str(raw), source="fmp")


class _FakeFmp(Provider):
    name = "fmp"  # a provider name with a request budget in the settings, so it has a bucket

    def __init__(self) -> None:
        self.lookup = _Lookup()
        super().__init__({Capability.LOOKUP: self.lookup})


@pytest.fixture
async def market(tmp_path: Path) -> AsyncIterator[tuple[MarketRuntime, _FakeFmp]]:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        breaker_failure_threshold=2,
        breaker_cooldown_seconds=60,
        fmp_requests_per_minute=60,  # the per-minute window of the quota ledger
    )
    await asyncio.to_thread(upgrade, settings.resolved_database_url)  # the ledger is there
    provider = _FakeFmp()
    runtime = MarketRuntime(settings, providers=[provider])
    yield runtime, provider
    await runtime.aclose()


async def test_provider_calls_errors_latency_skips_and_breaker_are_recorded(
    market: tuple[MarketRuntime, _FakeFmp],
) -> None:
    runtime, provider = market
    calls = sample("quantdesk_provider_calls_total", provider="fmp", outcome="ok")
    errors = sample("quantdesk_provider_errors_total", provider="fmp", kind="unavailable")
    timed = sample("quantdesk_provider_call_duration_seconds_count", provider="fmp")
    skipped = sample("quantdesk_provider_skipped_total", provider="fmp", reason="breaker_open")

    assert (await runtime.call(provider, Capability.LOOKUP, "AAPL")).answered
    assert sample("quantdesk_provider_breaker_state", provider="fmp") == 0.0
    provider.lookup.down = True
    for _ in range(2):
        await runtime.call(provider, Capability.LOOKUP, "AAPL")
    refused = await runtime.call(provider, Capability.LOOKUP, "AAPL")

    assert refused.error is not None
    assert refused.error.kind == "breaker_open"
    assert sample("quantdesk_provider_calls_total", provider="fmp", outcome="ok") == calls + 1
    assert sample("quantdesk_provider_errors_total", provider="fmp", kind="unavailable") == (
        errors + 2
    )
    assert sample("quantdesk_provider_call_duration_seconds_count", provider="fmp") == timed + 3
    assert sample("quantdesk_provider_skipped_total", provider="fmp", reason="breaker_open") == (
        skipped + 1
    )
    assert sample("quantdesk_provider_breaker_state", provider="fmp") == 2.0


async def test_scrape_reads_breaker_state_and_quota_left(
    market: tuple[MarketRuntime, _FakeFmp],
) -> None:
    runtime, provider = market
    for _ in range(3):
        await runtime.call(provider, Capability.LOOKUP, "AAPL")
    runtime.breakers["fmp"].record_failure()
    runtime.breakers["fmp"].record_failure()  # open, without a call to say so

    await scrape.providers_state(runtime)

    # The sliding window counts exactly: 3 of 60 spent in the last minute, 3 of FMP's 250 today.
    assert sample("quantdesk_provider_rate_limit_tokens", provider="fmp") == 57
    assert sample("quantdesk_provider_quota_used", provider="fmp", window="minute") == 3
    assert sample("quantdesk_provider_quota_left", provider="fmp", window="day") == 247
    assert sample("quantdesk_provider_breaker_state", provider="fmp") == 2.0


# --- probes never fail the scrape ---------------------------------------------------------------
class _StuckMarket:
    async def health(self) -> list[Any]:
        await asyncio.sleep(30)
        return []


class _BrokenMarket:
    async def health(self) -> list[Any]:
        raise ConnectionError("redis away")


@pytest.fixture
def probe_state(resources: JobResources) -> SimpleNamespace:
    settings = resources.settings.model_copy(update={"metrics_probe_timeout_seconds": 0.1})
    return SimpleNamespace(settings=settings, db=resources.db, market=None)


@pytest.mark.parametrize("market_kind", [_StuckMarket, _BrokenMarket])
async def test_a_failing_probe_is_reported_and_bounded(
    probe_state: SimpleNamespace, market_kind: type[Any]
) -> None:
    probe_state.market = market_kind()
    started = time.monotonic()

    await scrape.refresh(probe_state)

    assert time.monotonic() - started < 5
    assert sample("quantdesk_metrics_probe_success", probe="providers") == 0.0
    assert sample("quantdesk_metrics_probe_success", probe="jobs") == 1.0


def test_settings_refuse_an_idle_threshold_above_the_active_one() -> None:
    with pytest.raises(ValueError, match="IDLE_THRESHOLD"):
        Settings(activity_active_threshold=2, activity_idle_threshold=3)
