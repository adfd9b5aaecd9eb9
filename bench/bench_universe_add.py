"""One POST /universes/{id}/assets with 5,000 symbols, through the app in process (goal: < 1 s),
beside the floor: the same membership and change-log rows inserted in bulk in one transaction.

Fresh SQLite, 5,000+ catalog assets (one bulk insert), one user; each run adds all symbols to a
fresh, empty universe so every run does the same work.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import insert, select

from bench.common import (
    bench_symbol,
    compare,
    fresh_sqlite_settings,
    seed_catalog,
    size,
    summary_ms,
)
from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.kit.security import issue_jwt
from quantdesk.models import Asset, Universe, UniverseAsset, UniverseChange, User

SYMBOLS = size(5_000, 100)
CATALOG = size(6_000, 150)
RUNS = size(7, 2)
GOAL_S = 1.0


async def _run(settings: Settings) -> None:
    app = create_app(settings)
    async with LifespanManager(app):
        user = await seed_catalog(app.state.db, CATALOG)
        headers = {"Authorization": f"Bearer {issue_jwt(settings, user.id, 'access').token}"}
        symbols = [bench_symbol(n) for n in range(SYMBOLS)]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            samples: list[float] = []
            for run in range(RUNS):
                created = await client.post(
                    "/api/v1/universes", json={"name": f"Bench {run}"}, headers=headers
                )
                universe_id = created.json()["data"]["id"]
                started = time.perf_counter()
                response = await client.post(
                    f"/api/v1/universes/{universe_id}/assets",
                    json={"add": symbols},
                    headers=headers,
                )
                samples.append(time.perf_counter() - started)
                added = response.json()["data"]["counts"]["added"]
                if response.status_code != 200 or added != SYMBOLS:
                    raise RuntimeError(f"run {run}: HTTP {response.status_code}, {added} added")
        floor = await _floor(app.state.db, user)
    best, median = min(samples), statistics.median(samples)
    print(f"add {SYMBOLS} symbols in one request (SQLite, catalog of {CATALOG}): {RUNS} runs")
    print(f"  min {best * 1000:.0f} ms, median {median * 1000:.0f} ms  ({summary_ms(samples)})")
    verdict = "OK" if median < GOAL_S else "SLOWER THAN GOAL"
    print(f"  goal < {GOAL_S * 1000:.0f} ms: {verdict}")
    compare(
        f"add {SYMBOLS} symbols, median",
        median * 1000,
        floor * 1000,
        "ms",
        baseline_label="bulk insert of the same rows",
        higher_is_better=False,
    )


async def _floor(db: Database, user: User) -> float:
    """Seconds to insert the same membership and change rows in bulk, in one transaction."""
    async with db.transaction(user_id=user.id) as session:
        universe = Universe(owner_id=user.id, name="Floor")
        session.add(universe)
        await session.flush()
        ids = [asset_id for (asset_id,) in (await session.execute(select(Asset.id).limit(SYMBOLS)))]
    now = utcnow()
    started = time.perf_counter()
    async with db.transaction(user_id=user.id) as session:
        members = [
            {"universe_id": universe.id, "asset_id": asset_id, "owner_id": user.id,
             "position": n, "added_at": now, "metadata_": {}}
            for n, asset_id in enumerate(ids)
        ]  # fmt: skip
        changes = [
            {"universe_id": universe.id, "owner_id": user.id, "asset_id": asset_id,
             "symbol": bench_symbol(n), "action": "added", "occurred_at": now}
            for n, asset_id in enumerate(ids)
        ]  # fmt: skip
        await session.execute(insert(UniverseAsset), members)
        await session.execute(insert(UniverseChange), changes)
    return time.perf_counter() - started


def main() -> None:
    asyncio.run(_run(fresh_sqlite_settings()))  # migrations run outside the event loop


if __name__ == "__main__":
    main()
