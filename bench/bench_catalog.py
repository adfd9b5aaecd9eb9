"""Loading the full offline catalog into a fresh SQLite database, then the idempotent re-run,
beside the floor: the same rows inserted by plain ``executemany`` in one transaction (no
sources to read and merge, no search ranking, no upsert)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from bench.common import SMOKE, compare, fresh_sqlite_settings
from quantdesk.assets import service as asset_service
from quantdesk.assets.catalog import CatalogLoadReport, CatalogSources, load_catalog
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database

SOURCES = (
    CatalogSources(stock_countries=("iceland",), etfs=False, index_quotes=False, indices=())
    if SMOKE
    else CatalogSources()
)


async def _run(settings: Settings) -> list[tuple[float, CatalogLoadReport]]:
    db = Database(settings)
    runs = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            report = await load_catalog(db, sources=SOURCES)
            runs.append((time.perf_counter() - started, report))
        async with db.transaction() as session:
            by_class = await asset_service.count_assets_by_class(session)
        print(f"assets by class: {dict(sorted(by_class.items()))}")
    finally:
        await db.dispose()
    return runs


def _database_file(settings: Settings) -> Path:
    return Path(settings.resolved_database_url.split("///", 1)[1])


def _raw_insert(loaded: Path, empty: Path) -> tuple[float, int]:
    """Seconds to insert every loaded asset row into an empty migrated database, plainly."""
    with sqlite3.connect(loaded) as source:
        cursor = source.execute("SELECT * FROM assets")
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    target = sqlite3.connect(empty, isolation_level=None)
    try:
        target.execute("PRAGMA journal_mode=WAL")
        target.execute("PRAGMA synchronous=NORMAL")
        placeholders = ", ".join("?" for _ in columns)
        started = time.perf_counter()
        target.execute("BEGIN")
        target.executemany(
            f"INSERT INTO assets ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
            rows,
        )
        target.execute("COMMIT")
        return time.perf_counter() - started, len(rows)
    finally:
        target.close()


def main() -> None:
    settings = fresh_sqlite_settings()
    runs = asyncio.run(_run(settings))
    for label, (seconds, report) in zip(("first load", "re-run"), runs, strict=True):
        print(
            f"{label}: {seconds:.2f} s  created={report.created} updated={report.updated} "
            f"unchanged={report.unchanged} invalid={report.invalid} unnamed={report.unnamed} "
            f"duplicates={report.duplicates} indices={report.indices} "
            f"memberships={report.memberships} (+{report.memberships_added} "
            f"-{report.memberships_removed}) members_created={report.members_created} "
            f"members_unresolved={report.members_unresolved}"
        )
    raw_seconds, rows = _raw_insert(
        _database_file(settings), _database_file(fresh_sqlite_settings())
    )
    compare(
        f"first load of {rows:,} assets",
        runs[0][0],
        raw_seconds,
        "s",
        baseline_label="the same rows by plain executemany",
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
