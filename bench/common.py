"""Helpers shared by the benchmarks: a fresh migrated database, a seeded catalog, sizes,
percentiles, and the one way a figure is printed: beside its same-run baseline, with the ratio."""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

from quantdesk.assets.symbols import lookup_key
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.migrations import upgrade
from quantdesk.kit.security import hash_password
from quantdesk.models import Asset, User

BENCH_SECRET = "bench-secret-long-enough-for-any-environment-0123456789"
SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def size(full: int, smoke: int) -> int:
    """``full`` for a measurement, ``smoke`` under ``BENCH_SMOKE=1`` (does it still run?)."""
    return smoke if SMOKE else full


def fresh_sqlite_settings(directory: Path | None = None, **overrides: object) -> Settings:
    """Settings for a new, migrated SQLite database in a temporary directory."""
    root = directory or Path(tempfile.mkdtemp(prefix="quantdesk-bench-"))
    settings = Settings(
        environment="test",
        data_dir=root,
        jwt_secret=BENCH_SECRET,  # type: ignore[arg-type]
        log_level="WARNING",
        providers=["sim"],  # benchmarks never reach the internet
        **overrides,  # type: ignore[arg-type]
    )
    upgrade(settings.resolved_database_url)
    return settings


def bench_symbol(n: int) -> str:
    """The symbol of the ``n``-th asset ``seed_catalog`` inserts."""
    return f"BEN{n:05d}"


async def seed_catalog(db: Database, count: int, *, etf_every: int | None = None) -> User:
    """``count`` catalog assets (``bench_symbol(0)`` on; with ``etf_every``, each asset whose
    number it divides is an ETF, the rest equities) and one user, in one transaction."""
    async with db.transaction() as session:
        await session.execute(
            insert(Asset),
            [
                {
                    "symbol": bench_symbol(n),
                    "lookup_key": lookup_key(bench_symbol(n)),
                    "name": f"Bench Asset {n}",
                    "asset_class": "etf" if etf_every and n % etf_every == 0 else "equity",
                    "exchange": "BENCH",
                    "sector": "Benchmarks",
                    "metadata_": {},
                }
                for n in range(count)
            ],
        )
        user = User(email="bench@example.com", password_hash=hash_password("bench-password"))
        session.add(user)
        await session.flush()
    return user


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


def compare(
    label: str,
    ours: float,
    baseline: float,
    unit: str,
    *,
    baseline_label: str,
    higher_is_better: bool,
    goal: float | None = None,
) -> float:
    """Print ``label: ours unit | baseline_label: baseline unit | ratio`` and return the ratio.

    The ratio is always "ours relative to the baseline" in the direction where 1.0 means as good
    as the floor: ours/baseline for rates, baseline/ours for times. With ``goal``, a verdict.
    """
    ratio = ours / baseline if higher_is_better else baseline / ours
    verdict = ""
    if goal is not None:
        verdict = f"  goal >= {goal:g}: {'met' if ratio >= goal else 'NOT MET'}"
    print(
        f"{label}: {ours:,.2f} {unit} | {baseline_label}: {baseline:,.2f} {unit} | "
        f"ratio {ratio:.2f}{verdict}",
        flush=True,
    )
    return ratio


_TICK = os.sysconf("SC_CLK_TCK")


def _process_cpu() -> dict[int, tuple[str, int, float]]:
    """Every process's (name, process group, CPU seconds so far), from Linux /proc."""
    found: dict[int, tuple[str, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / _TICK
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        found[int(entry.name)] = (comm, int(fields[2]), seconds)
    return found


def cpu_seconds(*, groups: dict[str, int], pids: dict[str, int] | None = None) -> dict[str, float]:
    """CPU seconds used so far by each named process group (a server and its worker processes),
    each named process, and every PostgreSQL process under ``postgres`` (the server runs as a
    service: its backends do our statements)."""
    used = {name: 0.0 for name in [*groups, *(pids or {}), "postgres"]}
    by_pid = {pid: name for name, pid in (pids or {}).items()}
    by_group = {group: name for name, group in groups.items()}
    for pid, (comm, group, seconds) in _process_cpu().items():
        if group in by_group:
            used[by_group[group]] += seconds
        elif pid in by_pid:
            used[by_pid[pid]] += seconds
        elif comm == "postgres":
            used["postgres"] += seconds
    return used


def backend_cpu(pids: set[int]) -> dict[int, float]:
    """CPU seconds so far of each of these PostgreSQL backends still alive."""
    return {pid: cpu for pid, (_, _, cpu) in _process_cpu().items() if pid in pids}


def free_port() -> int:
    """A local port nothing listens on (for a server a benchmark starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_ok(url: str, timeout: float = 60.0) -> None:
    """Until ``url`` answers 200 (a server a benchmark started is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")
