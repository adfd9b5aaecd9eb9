"""In-process counters and latency reservoirs of the market-data layer (per process, since start).

A reservoir keeps only the most recent samples (a ring), so memory stays bounded however long the
process runs and the percentiles describe recent behaviour rather than last month's.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from datetime import datetime
from typing import Any

from quantdesk.kit.orm import utcnow
from quantdesk.market.schemas import (
    LatencySummary,
    LayerStats,
    ProviderCallStats,
    ValidationCounts,
    ValidationStats,
)

RESERVOIR_SIZE = 4096
LAYERS = ("cache", "catalog", "providers")


class Reservoir:
    """The last ``size`` latency samples, in milliseconds."""

    def __init__(self, size: int = RESERVOIR_SIZE) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, milliseconds: float) -> None:
        self._samples.append(milliseconds)

    def __len__(self) -> int:
        return len(self._samples)

    def summary(self) -> LatencySummary:
        ordered = sorted(self._samples)
        if not ordered:
            return LatencySummary(count=0)
        return LatencySummary(
            count=len(ordered),
            p50_ms=_percentile(ordered, 50),
            p95_ms=_percentile(ordered, 95),
            p99_ms=_percentile(ordered, 99),
        )


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted samples."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


class _ProviderCounters:
    def __init__(self) -> None:
        self.calls = 0
        self.answers = 0
        self.errors: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.latency = Reservoir()


class MarketStats:
    def __init__(self) -> None:
        self.since: datetime = utcnow()
        self.validations = 0
        self.symbols = 0
        self.outcomes: Counter[str] = Counter()
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self.validation_latency = Reservoir()
        self._providers: dict[str, _ProviderCounters] = {}

    def provider(self, name: str) -> _ProviderCounters:
        counters = self._providers.get(name)
        if counters is None:
            counters = self._providers[name] = _ProviderCounters()
        return counters

    def layer(self, name: str, *, hits: int = 0, misses: int = 0) -> None:
        self.hits[name] += hits
        self.misses[name] += misses

    def provider_call(self, name: str, milliseconds: float, *, error_kind: str | None) -> None:
        counters = self.provider(name)
        counters.calls += 1
        counters.latency.add(milliseconds)
        if error_kind is None:
            counters.answers += 1
        else:
            counters.errors[error_kind] += 1

    def provider_skipped(self, name: str, reason: str) -> None:
        self.provider(name).skipped[reason] += 1

    def validation(self, milliseconds: float, outcomes: Counter[str]) -> None:
        self.validations += 1
        self.symbols += sum(outcomes.values())
        self.outcomes.update(outcomes)
        self.validation_latency.add(milliseconds)

    def snapshot(self, *, provider_names: list[str], cache: dict[str, Any]) -> ValidationStats:
        names = list(dict.fromkeys([*provider_names, *self._providers]))
        providers = {}
        for name in names:
            counters = self.provider(name)
            providers[name] = ProviderCallStats(
                calls=counters.calls,
                answers=counters.answers,
                errors=dict(counters.errors),
                skipped=dict(counters.skipped),
                latency=counters.latency.summary(),
            )
        return ValidationStats(
            since=self.since,
            validations=self.validations,
            symbols=self.symbols,
            outcomes=ValidationCounts(
                valid=self.outcomes["valid"],
                invalid=self.outcomes["invalid"],
                unknown=self.outcomes["unknown"],
            ),
            layers={
                name: LayerStats(hits=self.hits[name], misses=self.misses[name]) for name in LAYERS
            },
            providers=providers,
            validation_latency=self.validation_latency.summary(),
            cache=cache,
        )
