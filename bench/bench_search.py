"""Catalog search over the full catalog on SQLite, in process: p50/p95/p99 of a realistic mix.

Goal: p95 < 10 ms. The mix: exact symbols, short prefixes ("A", "MS"), name words ("apple",
"bank", "gold"), a few filtered searches and second pages, through the service call on the
engine exactly as the app configures it (kit/db.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict

from sqlalchemy import select

from bench.common import fresh_sqlite_settings, summary_ms
from quantdesk.assets import service as asset_service
from quantdesk.assets.catalog import load_catalog
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.models import Asset

QUERIES = 1000
PREFIXES = ["A", "B", "C", "MS", "GO", "AA", "T", "SAP", "BRK", "VOD", "NV", "X", "Z", "BA", "JP"]
WORDS = [
    "apple",
    "bank",
    "gold",
    "microsoft",
    "deutsche",
    "energy",
    "pharma",
    "technologies",
    "holdings",
    "mining",
    "bitcoin",
    "insurance",
    "toyota",
    "s&p",
    "oil gas",
    "real estate",
    "vodafone",
    "nvidia",
    "berkshire",
    "siemens",
    "royal",
    "china",
    "capital",
    "group",
]
FILTERS = [
    {"asset_class": "equity"},
    {"sector": "Technology"},
    {"asset_class": "etf"},
    {"exchange": "NASDAQ"},
]


async def _queries(db: Database, rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    async with db.transaction() as session:
        symbols = list((await session.execute(select(Asset.symbol))).scalars())
    mix: list[tuple[str, dict[str, str]]] = []
    for i in range(QUERIES):
        roll = i % 10
        if roll < 3:
            symbol = rng.choice(symbols)
            mix.append((symbol.lower() if rng.random() < 0.5 else symbol, {}))
        elif roll < 6:
            mix.append((rng.choice(PREFIXES), {}))
        elif roll < 9:
            mix.append((rng.choice(WORDS), {}))
        else:
            mix.append((rng.choice(PREFIXES + WORDS), rng.choice(FILTERS)))
    return mix


async def _measure(db: Database, mix: list[tuple[str, dict[str, str]]], label: str) -> None:
    samples: list[float] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    pages: list[float] = []
    async with db.transaction() as session:
        for q, filters in mix[:50]:  # warm the statement and page caches
            await asset_service.search_assets(session, q=q, **filters)
        for i, (q, filters) in enumerate(mix):
            t0 = time.perf_counter()
            hits, cursor = await asset_service.search_assets(session, q=q, **filters)
            elapsed = time.perf_counter() - t0
            samples.append(elapsed)
            kind = "filtered" if filters else (hits[0].match.value if hits else "none")
            by_kind[kind].append(elapsed)
            if cursor and i % 5 == 0:
                t0 = time.perf_counter()
                await asset_service.search_assets(session, q=q, cursor=cursor, **filters)
                pages.append(time.perf_counter() - t0)
    print(f"[{label}] all queries: {summary_ms(samples)}")
    for kind in sorted(by_kind):
        print(f"  first hit {kind:<8} {summary_ms(by_kind[kind])}")
    print(f"  second pages       {summary_ms(pages)}")
    slowest = sorted(zip(samples, mix, strict=True), reverse=True)[:5]
    print("  slowest: " + ", ".join(f"{q!r}{f or ''} {s * 1000:.1f} ms" for s, (q, f) in slowest))


async def _run(settings: Settings) -> None:
    db = Database(settings)
    try:
        started = time.perf_counter()
        report = await load_catalog(db)
        print(f"catalog: {report.created} assets loaded in {time.perf_counter() - started:.1f} s")
        mix = await _queries(db, random.Random(42))
        await _measure(db, mix, "search")
    finally:
        await db.dispose()


def main() -> None:
    asyncio.run(_run(fresh_sqlite_settings()))
