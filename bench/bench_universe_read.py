"""Reading a 5,000-member universe through the app in process: the universe answer, one page of
its members, and every page, beside a same-run floor (``GET /auth/me``: authentication, one
transaction and the envelope, no domain work).

Fresh SQLite, one user, one universe of 5,000 catalog assets. The requests are interleaved
(one of each per round) so that the shared machine's noise falls on all of them alike.

Before members were paged, `GET /universes/{id}` answered all 5,000 of them: 888 KB, p50 391 ms,
97x the floor (same bench, 2-core dev machine). Reading every member still costs about that much.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from asgi_lifespan import LifespanManager

from bench.common import bench_symbol, fresh_sqlite_settings, percentile, seed_catalog, size
from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.security import issue_jwt

MEMBERS = size(5_000, 200)
ROUNDS = size(25, 2)
WARM_UP = size(3, 1)
FLOOR = "GET /auth/me (floor)"


async def _get(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> httpx.Response:
    response = await client.get(path, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code} {response.text[:200]}")
    return response


async def _walk(
    client: httpx.AsyncClient, universe_id: str, headers: dict[str, str], limit: int
) -> tuple[int, int]:
    """(bytes, members) of every page of the members, ``limit`` per page."""
    path = f"/api/v1/universes/{universe_id}/assets"
    params: dict[str, str | int] = {"limit": limit}
    total_bytes = members = 0
    while True:
        response = await _get(client, f"{path}?{httpx.QueryParams(params)}", headers)
        page = response.json()["data"]
        total_bytes += len(response.content)
        members += len(page["items"])
        if not page["next_cursor"]:
            return total_bytes, members
        params = {"limit": limit, "cursor": page["next_cursor"]}


async def _run(settings: Settings) -> None:
    app = create_app(settings)
    async with LifespanManager(app):
        user = await seed_catalog(app.state.db, MEMBERS, etf_every=4)
        headers = {"Authorization": f"Bearer {issue_jwt(settings, user.id, 'access').token}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            symbols = [bench_symbol(n) for n in range(MEMBERS)]
            created = await client.post(
                "/api/v1/universes", json={"name": "Bench", "symbols": symbols}, headers=headers
            )
            if created.status_code != 201:
                raise RuntimeError(f"create: HTTP {created.status_code} {created.text[:200]}")
            universe_id = created.json()["data"]["id"]
            single = {
                FLOOR: "/api/v1/auth/me",
                "GET /universes/{id}": f"/api/v1/universes/{universe_id}",
                "GET /universes/{id}/assets (first page, 100)": (
                    f"/api/v1/universes/{universe_id}/assets"
                ),
                "GET /universes/{id}/assets?limit=1000": (
                    f"/api/v1/universes/{universe_id}/assets?limit=1000"
                ),
            }
            samples: dict[str, list[float]] = {label: [] for label in single}
            sizes: dict[str, int] = {}
            walk_label = f"all {MEMBERS} members, pages of 1000"
            samples[walk_label] = []
            for round_ in range(WARM_UP + ROUNDS):
                for label, path in single.items():
                    started = time.perf_counter()
                    response = await _get(client, path, headers)
                    elapsed = time.perf_counter() - started
                    sizes[label] = len(response.content)
                    if round_ >= WARM_UP:
                        samples[label].append(elapsed)
                started = time.perf_counter()
                walked_bytes, walked = await _walk(client, universe_id, headers, 1000)
                elapsed = time.perf_counter() - started
                if walked != MEMBERS:
                    raise RuntimeError(f"the pages held {walked} members, not {MEMBERS}")
                sizes[walk_label] = walked_bytes
                if round_ >= WARM_UP:
                    samples[walk_label].append(elapsed)
    floor = percentile(samples[FLOOR], 50)
    print(f"read a {MEMBERS}-member universe (SQLite, in process): {ROUNDS} interleaved rounds")
    for label, values in samples.items():
        p50 = percentile(values, 50)
        print(
            f"  {label:<46} {sizes[label] / 1024:8.1f} KB  p50 {p50 * 1000:7.2f} ms  "
            f"p95 {percentile(values, 95) * 1000:7.2f} ms  {p50 / floor:5.1f}x floor"
        )


def main() -> None:
    asyncio.run(_run(fresh_sqlite_settings()))  # migrations run outside the event loop


if __name__ == "__main__":
    main()
