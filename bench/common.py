"""Helpers shared by the benchmarks: a fresh migrated SQLite database, timing, percentiles."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from quantdesk.kit.config import Settings
from quantdesk.kit.migrations import upgrade

BENCH_SECRET = "bench-secret-long-enough-for-any-environment-0123456789"


def fresh_sqlite_settings(directory: Path | None = None) -> Settings:
    """Settings for a new, migrated SQLite database in a temporary directory."""
    root = directory or Path(tempfile.mkdtemp(prefix="quantdesk-bench-"))
    settings = Settings(
        environment="test",
        data_dir=root,
        jwt_secret=BENCH_SECRET,  # type: ignore[arg-type]
        log_level="WARNING",
    )
    upgrade(settings.resolved_database_url)
    return settings


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    lower, upper = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (k - lower)


def summary_ms(samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.2f} ms p95={percentile(ms, 95):.2f} ms "
        f"p99={percentile(ms, 99):.2f} ms mean={statistics.fmean(ms):.2f} ms"
    )
