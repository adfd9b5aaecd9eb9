"""Loading the full offline catalog into a fresh SQLite database, then the idempotent re-run."""

from __future__ import annotations

import asyncio
import time

from bench.common import fresh_sqlite_settings
from quantdesk.assets import service as asset_service
from quantdesk.assets.catalog import CatalogLoadReport, load_catalog
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database


async def _run(settings: Settings) -> list[tuple[float, CatalogLoadReport]]:
    db = Database(settings)
    runs = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            report = await load_catalog(db)
            runs.append((time.perf_counter() - started, report))
        async with db.transaction() as session:
            by_class = await asset_service.count_assets_by_class(session)
        print(f"assets by class: {dict(sorted(by_class.items()))}")
    finally:
        await db.dispose()
    return runs


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
