"""The engine's data types and flags: seeded by the migration, readable by everyone, changed by
admins only, every change audited; TTLs stay positive even written directly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from quantdesk.cli.market import app as market_cli
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.models import User
from tests.factories import Account, create_api_token, create_user
from tests.jobs.live_server import LiveServer, live_server
from tests.market.support import registry_kept

TYPES = "/api/v1/market/data-types"
SEEDED = {
    "quote", "profile", "financial-statements", "ratios-ttm", "dividend-history",
    "shares-float", "revenue-segmentation", "grades-historical", "exchange-variants",
    "available-exchanges", "exchange-market-status",
}  # fmt: skip


async def _make_admin(db: Database, account: Account) -> None:
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == account.user.id).values(is_admin=True))


@pytest.fixture
async def restore_types(db: Database) -> AsyncIterator[None]:
    async with registry_kept(db):
        yield


async def test_the_registry_is_seeded_and_readable_by_everyone(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(TYPES, headers=alice.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["engine"] is True
    types = {t["name"]: t for t in data["data_types"]}
    assert set(types) == SEEDED
    assert all(t["ttl_seconds"] > 0 and t["enabled"] for t in types.values())
    assert types["quote"]["ttl_seconds"] == 60
    assert types["quote"]["providers"][:2] == ["yahoo", "alphavantage"]
    assert (
        types["exchange-market-status"]["kind"],
        types["exchange-market-status"]["schedule_seconds"],
    ) == ("scheduled", 300)
    assert (types["profile"]["kind"], types["profile"]["schedule_seconds"]) == ("on_demand", None)


async def test_only_admins_change_types_and_every_change_is_audited(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account, restore_types: None
) -> None:
    await _make_admin(db, alice)
    refused = await client.patch(f"{TYPES}/quote", json={"ttl_seconds": 5}, headers=bob.headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert (await client.get("/api/v1/market/audit", headers=bob.headers)).status_code == 403

    changed = await client.patch(
        f"{TYPES}/quote", json={"ttl_seconds": 30, "enabled": False}, headers=alice.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["data"]["ttl_seconds"], changed.json()["data"]["enabled"]) == (30, False)
    same = await client.patch(f"{TYPES}/quote", json={"ttl_seconds": 30}, headers=alice.headers)
    assert same.status_code == 200  # nothing changed: nothing audited
    off = await client.put("/api/v1/market/engine", json={"enabled": False}, headers=alice.headers)
    assert off.json()["data"] == {"enabled": False}
    assert (await client.get(TYPES, headers=bob.headers)).json()["data"]["engine"] is False

    audit = (await client.get("/api/v1/market/audit", headers=alice.headers)).json()["data"]
    assert [(a["target"], a["before"], a["after"]) for a in audit] == [
        ("flag:engine", {"enabled": True}, {"enabled": False}),
        (
            "data_type:quote",
            {"ttl_seconds": 60, "enabled": True},
            {"ttl_seconds": 30, "enabled": False},
        ),
    ]
    assert {a["actor"] for a in audit} == {str(alice.user.id)}


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("quote", {"ttl_seconds": 0}, 422, "ttl_seconds"),
        ("quote", {"ttl_seconds": -5}, 422, "ttl_seconds"),
        ("quote", {}, 422, "body"),
        ("quote", {"kind": "scheduled"}, 422, "kind"),
        ("nope", {"ttl_seconds": 10}, 404, None),
    ],
)
async def test_bad_changes_are_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    db: Database,
    alice: Account,
    name: str,
    body: dict[str, object],
    status: int,
    field: str | None,
) -> None:
    await _make_admin(db, alice)
    response = await client.patch(f"{TYPES}/{name}", json=body, headers=alice.headers)
    assert response.status_code == status, response.text
    if field is not None:
        fields = [d["field"] for d in response.json()["error"]["details"]]
        assert any(f.endswith(field) for f in fields), fields
    quote = next(
        t
        for t in (await client.get(TYPES, headers=alice.headers)).json()["data"]["data_types"]
        if t["name"] == "quote"
    )
    assert quote["ttl_seconds"] == 60


async def test_a_ttl_is_positive_even_written_directly(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction(system=True) as session:
            await session.execute(
                text("UPDATE market_data_types SET ttl_seconds = 0 WHERE name = 'quote'")
            )


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as running:
        yield running


async def test_quantdesk_market_flags_shows_and_changes_them(
    server: LiveServer, db: Database, settings: Settings, restore_types: None
) -> None:
    admin = await create_user(db, settings)
    await _make_admin(db, admin)
    _, admin_token = await create_api_token(db, admin.user)
    user = await create_user(db, settings)
    _, user_token = await create_api_token(db, user.user)
    runner = CliRunner()

    shown = runner.invoke(
        market_cli,
        ["flags", "--api-url", server.http_url, "--token", user_token],
        env={"COLUMNS": "200"},
    )
    assert shown.exit_code == 0, shown.output
    assert "Market-data engine: on" in shown.output
    assert "exchange-market-status" in shown.output

    refused = runner.invoke(
        market_cli,
        ["flags", "quote", "--ttl", "45", "--api-url", server.http_url, "--token", user_token],
    )
    assert refused.exit_code == 1
    assert "Only an admin" in refused.output

    changed = runner.invoke(
        market_cli,
        [
            "flags",
            "quote",
            "--ttl",
            "45",
            "--off",
            "-o",
            "json",
            "--api-url",
            server.http_url,
            "--token",
            admin_token,
        ],
    )
    assert changed.exit_code == 0, changed.output
    quote = next(t for t in json.loads(changed.stdout)["data_types"] if t["name"] == "quote")
    assert (quote["ttl_seconds"], quote["enabled"]) == (45, False)
    nothing = runner.invoke(
        market_cli, ["flags", "quote", "--api-url", server.http_url, "--token", admin_token]
    )
    assert nothing.exit_code == 2
