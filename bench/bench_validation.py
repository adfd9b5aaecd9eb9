"""Validation of cached symbols: one symbol through the HTTP API and through the service call
(goal p99 < 5 ms; the first design's target was 500 ms), and 1,000 cached symbols in one
request (goal < 200 ms).

In process: the app over httpx's ASGI transport, fresh SQLite, the embedded provider default.
The API allows 5 validation calls per minute per user, so the app's rate limiter is replaced by
one that never refuses (``_NoLimit``) for these runs: the figures measure validation, not 429s.
"Cached" means a first pass put every symbol in the in-process cache layer (no Redis).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import insert

from bench.common import compare, fresh_sqlite_settings, percentile, size, summary_ms
from quantdesk.app import create_app
from quantdesk.assets.symbols import lookup_key
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.ratelimit import RateLimiter
from quantdesk.kit.security import hash_password, issue_jwt
from quantdesk.market import service as market_service
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import Asset, User

SYMBOLS = size(1_000, 20)
SINGLE_CALLS = size(2_000, 10)
BULK_RUNS = size(50, 2)
SINGLE_GOAL_P99_MS = 5.0
BULK_GOAL_MS = 200.0
VALIDATE = "/api/v1/assets/validate"


class _NoLimit(RateLimiter):
    """The benchmark's limiter: counts nothing, refuses nothing."""

    async def hit(self, limit: str, *keys: str, message: str = "") -> None:
        return None


async def _seed(db: Database) -> User:
    async with db.transaction() as session:
        await session.execute(
            insert(Asset),
            [
                {
                    "symbol": f"BVA{n:05d}",
                    "lookup_key": lookup_key(f"BVA{n:05d}"),
                    "name": f"Bench Validation {n}",
                    "asset_class": "equity",
                    "exchange": "BENCH",
                    "metadata_": {},
                }
                for n in range(SYMBOLS)
            ],
        )
        user = User(email="bench-validate@example.com", password_hash=hash_password("bench-pw"))
        session.add(user)
        await session.flush()
    return user


def _check(response: httpx.Response, expected_valid: int) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body["data"]["counts"]["valid"] != expected_valid:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    return body


async def _service_calls(db: Database, runtime: MarketRuntime, symbol: str) -> list[float]:
    samples = []
    for _ in range(SINGLE_CALLS):
        started = time.perf_counter()
        batch = await market_service.validate_symbols(
            db, runtime=runtime, user_id=None, symbols=[symbol]
        )
        samples.append(time.perf_counter() - started)
        if not batch.results[0].from_cache:
            raise RuntimeError("the symbol was not served from the cache")
    return samples


def _report(label: str, samples: list[float], goal_ms: float, at: float) -> None:
    value = percentile([s * 1000 for s in samples], at)
    verdict = "OK" if value < goal_ms else "SLOWER THAN GOAL"
    print(f"{label}\n  {summary_ms(samples)}")
    print(f"  goal p{at:g} < {goal_ms:g} ms: {verdict} ({value:.2f} ms)")


async def _run(settings: Settings) -> None:
    app = create_app(settings)
    async with LifespanManager(app):
        app.state.limiter = _NoLimit()
        user = await _seed(app.state.db)
        headers = {"Authorization": f"Bearer {issue_jwt(settings, user.id, 'access').token}"}
        symbols = [f"BVA{n:05d}" for n in range(SYMBOLS)]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            started = time.perf_counter()
            first = await client.post(VALIDATE, json={"symbols": symbols}, headers=headers)
            cold = time.perf_counter() - started
            _check(first, SYMBOLS)

            single: list[float] = []
            for _ in range(SINGLE_CALLS):
                started = time.perf_counter()
                response = await client.post(
                    VALIDATE, json={"symbols": [symbols[len(symbols) // 2]]}, headers=headers
                )
                single.append(time.perf_counter() - started)
                if not _check(response, 1)["data"]["results"][0]["from_cache"]:
                    raise RuntimeError("the symbol was not served from the cache")

            # The same authentication and request transaction with no work: the floor under it.
            floor: list[float] = []
            for _ in range(SINGLE_CALLS):
                started = time.perf_counter()
                me = await client.get("/api/v1/auth/me", headers=headers)
                floor.append(time.perf_counter() - started)
                if me.status_code != 200:
                    raise RuntimeError(f"HTTP {me.status_code}: {me.text[:300]}")

            bulk: list[float] = []
            for _ in range(BULK_RUNS):
                started = time.perf_counter()
                response = await client.post(VALIDATE, json={"symbols": symbols}, headers=headers)
                bulk.append(time.perf_counter() - started)
                _check(response, SYMBOLS)

        service = await _service_calls(app.state.db, app.state.market, symbols[len(symbols) // 2])

    print(f"first (cold: catalog) validation of {SYMBOLS} symbols: {cold * 1000:.0f} ms")
    _report(
        f"one cached symbol, POST {VALIDATE} (auth + envelope included), {SINGLE_CALLS} calls",
        single,
        SINGLE_GOAL_P99_MS,
        99,
    )
    print(f"floor: GET /api/v1/auth/me (auth + request transaction only), {SINGLE_CALLS} calls")
    print(f"  {summary_ms(floor)}")
    for at in (50, 99):
        compare(
            f"one cached symbol over HTTP, p{at}",
            percentile(single, at) * 1000,
            percentile(floor, at) * 1000,
            "ms",
            baseline_label="GET /api/v1/auth/me",
            higher_is_better=False,
        )
    _report(
        f"one cached symbol, market.service.validate_symbols, {SINGLE_CALLS} calls",
        service,
        SINGLE_GOAL_P99_MS,
        99,
    )
    _report(
        f"{SYMBOLS} cached symbols in one POST {VALIDATE}, {BULK_RUNS} runs",
        bulk,
        BULK_GOAL_MS,
        50,
    )


def main() -> None:
    asyncio.run(_run(fresh_sqlite_settings()))  # migrations run outside the event loop


if __name__ == "__main__":
    main()
