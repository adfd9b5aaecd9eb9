"""Helpers of the validation and market-data tests: live settings against the fake server,
scripted provider replies built from the recorded answers, apps and runtimes, clean-up."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete, select, text

from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import Asset, ValidationRequest
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.providers.recordings import recorded, recorded_body

# Every symbol these tests create starts with this (none is in the catalog); removed after each.
PREFIX = "QV"
API = "/api/v1"
AV_SEARCH = {"function": "SYMBOL_SEARCH"}
AV_QUOTE = {"function": "GLOBAL_QUOTE"}
FMP_PROFILE = "/stable/profile"
FMP_QUOTE = "/stable/batch-quote"


def live_settings(
    base: Settings, server: FakeHttpServer, providers: tuple[str, ...], **overrides: Any
) -> Settings:
    """The test settings with real adapters pointed at the fake server; fast breakers."""
    values: dict[str, Any] = {
        "providers": list(providers),
        "alphavantage_base_url": server.url,
        "alphavantage_api_key": SecretStr("AVTESTKEY"),
        "alphavantage_timeout_seconds": 0.5,
        "alphavantage_requests_per_minute": 6000.0,
        "fmp_base_url": server.url,
        "fmp_api_key": SecretStr("FMPTESTKEY"),
        "fmp_timeout_seconds": 0.5,
        "fmp_requests_per_minute": 6000.0,
        "breaker_failure_threshold": 3,
        "breaker_cooldown_seconds": 0.3,
    }
    values.update(overrides)
    return base.model_copy(update=values)


# --- Scripted replies (recorded shapes, our symbols) --------------------------------------------


def fmp_profile(symbol: str, name: str, **fields: Any) -> Reply:
    entry = copy.deepcopy(recorded_body("fmp/profile_stable_AAPL.json")[0])
    entry.update(symbol=symbol, companyName=name, **fields)
    return Reply(body=[entry])


def fmp_quote(symbol: str, **fields: Any) -> Reply:
    entry = copy.deepcopy(recorded_body("fmp/quote_stable_AAPL.json")[0])
    entry.update(symbol=symbol, **fields)
    return Reply(body=[entry])


def fmp_not_found() -> Reply:
    return Reply(body=[])


def fmp_limit_reached() -> Reply:
    return recorded("fmp/error_429_limit-reach.json")


def av_match(symbol: str, name: str) -> Reply:
    body = copy.deepcopy(recorded_body("alphavantage/symbol_search_BA.json"))
    match = body["bestMatches"][0]
    match.update({"1. symbol": symbol, "2. name": name})
    return Reply(body={"bestMatches": [match]})


def av_throttled() -> Reply:
    return recorded("alphavantage/throttle_note_per-minute.json")


def server_error() -> Reply:
    return Reply(status=500, body="Internal Server Error")


# --- Runtimes, apps, clients ----------------------------------------------------------------


@asynccontextmanager
async def market_runtime(settings: Settings) -> AsyncIterator[MarketRuntime]:
    runtime = MarketRuntime(settings)
    try:
        yield runtime
    finally:
        await runtime.aclose()


@asynccontextmanager
async def live_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own (these settings, the same database) and a client for it."""
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client


# --- Database state -------------------------------------------------------------------------


async def forget_test_symbols(db: Database) -> None:
    """Remove what these tests wrote: their assets (and so quotes, profiles), queue, quotes."""
    async with db.transaction() as session:
        await session.execute(delete(ValidationRequest))
        await session.execute(text("DELETE FROM asset_quotes"))
        await session.execute(text("DELETE FROM asset_profiles"))
        await session.execute(delete(Asset).where(Asset.symbol.like(f"{PREFIX}%")))


async def asset_row(db: Database, symbol: str) -> Asset | None:
    async with db.transaction() as session:
        result = await session.execute(select(Asset).where(Asset.symbol == symbol))
        return result.scalar_one_or_none()


async def queued(db: Database) -> dict[str, ValidationRequest]:
    async with db.transaction() as session:
        rows = (await session.execute(select(ValidationRequest))).scalars().all()
        return {row.symbol: row for row in rows}


@asynccontextmanager
async def registry_kept(db: Database) -> AsyncIterator[None]:
    """The engine's registry is global data: put back the types' TTLs and switches, the engine
    flag and the audit as they were before the block."""
    async with db.transaction(system=True) as session:
        saved = (
            await session.execute(text("SELECT name, ttl_seconds, enabled FROM market_data_types"))
        ).all()
    try:
        yield
    finally:
        async with db.transaction(system=True) as session:
            for name, ttl, enabled in saved:
                await session.execute(
                    text(
                        "UPDATE market_data_types SET ttl_seconds = :t, enabled = :e "
                        "WHERE name = :n"
                    ),
                    {"t": ttl, "e": enabled, "n": name},
                )
            await session.execute(text("UPDATE market_flags SET enabled = true"))
            await session.execute(text("DELETE FROM market_audit"))
