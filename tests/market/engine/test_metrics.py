"""The engine in Prometheus: queue depth, oldest due row, quota ledger and freshness read at
scrape time (``GET /metrics``), and the refresh outcomes the workers count."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from quantdesk.kit import metrics
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from tests.factories import Account
from tests.market.engine.test_status import _seed

FAMILIES = (
    "quantdesk_market_queue_depth",
    "quantdesk_market_queue_oldest_due_seconds",
    "quantdesk_market_watched_pairs",
    "quantdesk_market_fresh_ratio",
)


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_metrics_show_the_queue_and_the_freshness_of_watched_pairs(
    client: httpx.AsyncClient, edb: Database, alice: Account
) -> None:
    await _seed(edb, alice, utcnow())

    response = await client.get("/metrics")

    assert response.status_code == 200, response.text
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert set(FAMILIES) <= set(families), set(FAMILIES) - set(families)
    depth = {
        (s.labels["status"], s.labels["provider"], s.labels["data_type"]): s.value
        for s in families["quantdesk_market_queue_depth"].samples
    }
    assert depth[("pending", "unrouted", "quote")] == 2
    assert depth[("pending", "fmp", "quote")] == 1
    assert depth[("completed", "fmp", "quote")] == 2
    (oldest,) = families["quantdesk_market_queue_oldest_due_seconds"].samples
    assert 119 < oldest.value < 130
    assert families["quantdesk_market_watched_pairs"].samples[0].value == 5
    assert families["quantdesk_market_fresh_ratio"].samples[0].value == 0.4
    assert sample("quantdesk_metrics_probe_success", probe="market") == 1.0

    # The queue drains: its label sets read 0 rather than their last depth.
    async with edb.transaction(system=True) as session:
        await session.execute(text("DELETE FROM market_refresh_queue"))
    await client.get("/metrics")
    assert sample(
        "quantdesk_market_queue_depth", status="pending", provider="fmp", data_type="quote"
    ) == (0.0)
    assert sample("quantdesk_market_queue_oldest_due_seconds") == 0.0


def test_refresh_outcomes_are_counted_with_closed_labels() -> None:
    def count(provider: str, data_type: str, outcome: str) -> float:
        labels = {"provider": provider, "data_type": data_type, "outcome": outcome}
        return sample("quantdesk_market_refreshes_total", **labels) or 0.0

    completed = count("fmp", "financial-statements", "completed")
    unrouted = count("unrouted", "quote", "lease_expired")
    other = count("fmp", "quote", "other")
    odd_type = count("fmp", "other", "completed")

    metrics.market_refresh("fmp", "financial-statements", "completed", count=3)
    metrics.market_refresh("fmp", "financial-statements", "completed")
    metrics.market_refresh(None, "quote", "lease_expired")
    metrics.market_refresh("fmp", "quote", "exploded")  # not an outcome: "other"
    metrics.market_refresh("fmp", "quote", "completed", count=0)  # nothing to count
    metrics.market_refresh("fmp", "Quote Of Alice", "completed")  # not a type name: "other"

    assert count("fmp", "financial-statements", "completed") == completed + 4
    assert count("unrouted", "quote", "lease_expired") == unrouted + 1
    assert count("fmp", "quote", "other") == other + 1
    assert count("fmp", "other", "completed") == odd_type + 1
    assert count("fmp", "Quote Of Alice", "completed") == 0.0
