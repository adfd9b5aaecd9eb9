"""The MCP server at /mcp of the in-process app, through the SDK's own client, on both engines:
the agent's flow, the token tiers, tenant isolation over every tool that takes an id, waiting on
an operation, resources, prompts, and what each call leaves in the logs and the metrics."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from mcp.shared.exceptions import MCPError
from prometheus_client import REGISTRY

from quantdesk.agents.catalog import app_catalog
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine import store
from quantdesk.market.engine.schemas import Fetched
from quantdesk.models import Operation
from quantdesk.models.operation import OperationStatus
from tests.agents.conftest import Token
from tests.agents.support import call, envelope, mcp_over_asgi
from tests.factories import Account, ensure_assets
from tests.market.engine.conftest import empty_engine_tables

COIN = "TSTC-USD"  # crypto trades around the clock: an order can rest whatever the hour


@pytest.fixture
async def assets(db: Database) -> AsyncIterator[None]:
    await empty_engine_tables(db)
    await ensure_assets(db)
    await ensure_assets(db, [(COIN, "Test coin", "crypto", None)])
    yield
    await empty_engine_tables(db)


async def test_an_agent_searches_builds_a_universe_and_reads_it_back(
    app: FastAPI, alice_writer: Token, assets: None
) -> None:
    async with mcp_over_asgi(app, alice_writer.secret) as agent:
        listed = await agent.list_tools()
        names = {tool.name for tool in listed.tools}
        assert names == set(app_catalog(app).names())
        assert {"search_assets", "create_universe", "place_order", "get_operation"} <= names

        found = await call(agent, "search_assets", q="apple")
        assert found["success"] is True
        assert "AAPL" in [item["symbol"] for item in found["data"]["items"]]

        created = await call(agent, "create_universe", name="Big tech")
        assert created["metadata"]["status_code"] == 201
        assert "add_assets_to_universe" in created["next_actions"]
        # import_universe_csv is no tool: next_actions keep only what the agent can call.
        assert "import_universe_csv" not in created["next_actions"]
        universe_id = created["data"]["id"]

        added = await call(
            agent, "add_assets_to_universe", universe_id=universe_id, add=["AAPL", "MSFT"]
        )
        assert added["success"] is True, added

        universe = await call(agent, "get_universe", universe_id=universe_id)
        assert (universe["data"]["name"], universe["data"]["asset_count"]) == ("Big tech", 2)
        members = await call(agent, "list_universe_assets", universe_id=universe_id)
        assert sorted(m["symbol"] for m in members["data"]["items"]) == ["AAPL", "MSFT"]


async def test_validation_is_the_apis_and_unknown_arguments_are_refused(
    app: FastAPI, alice_writer: Token
) -> None:
    async with mcp_over_asgi(app, alice_writer.secret) as agent:
        blank = await call(agent, "create_universe", name="")
        assert (blank["success"], blank["metadata"]["status_code"]) == (False, 422)
        assert blank["error"]["details"][0]["field"] == "name"

        misspelt = await call(agent, "list_universes", limt=5)
        assert misspelt["error"]["code"] == "invalid_arguments"
        assert misspelt["error"]["details"] == [{"field": "limt", "reason": "unknown argument"}]

        unknown = await agent.call_tool("drop_all_tables", {})
        assert unknown.is_error is True
        assert envelope(unknown)["error"]["code"] == "unknown_tool"


async def test_a_read_only_token_lists_read_tools_and_is_refused_every_write(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, alice_reader: Token
) -> None:
    catalog = app_catalog(app)
    async with mcp_over_asgi(app, alice_reader.secret) as agent:
        listed = {tool.name for tool in (await agent.list_tools()).tools}
        assert listed == {tool.name for tool in catalog.tools if tool.method == "GET"}
        assert all(tool.annotations and tool.annotations.read_only_hint for tool in (
            await agent.list_tools()).tools)  # fmt: skip

        refused = await call(agent, "create_universe", name="Not mine to make")
        assert refused["metadata"]["status_code"] == 403
        assert refused["error"]["code"] == "insufficient_scope"
        account = await call(agent, "create_account", name="Sneaky")
        assert account["error"]["code"] == "insufficient_scope"
        allowed = await call(agent, "list_universes")
        assert allowed["success"] is True

    universes = await client.get("/api/v1/universes", headers=alice.headers)
    accounts = await client.get("/api/v1/accounts", headers=alice.headers)
    assert universes.json()["data"]["items"] == accounts.json()["data"]["items"] == []


async def test_no_personal_api_token_no_tools(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, alice_writer: Token
) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    revoked = await client.delete(f"/api/v1/auth/tokens/{alice_writer.id}", headers=alice.headers)
    assert revoked.status_code == 200
    for headers in (
        {},
        {"Authorization": "Bearer qd_not-a-real-token"},
        {"Authorization": f"Bearer {alice_writer.secret}"},  # revoked just now
        alice.headers,  # a login JWT is not a personal API token
    ):
        response = await client.post("/mcp", json=request, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "tools" not in response.text

    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's own refusal, whatever its type
        async with mcp_over_asgi(app, "qd_not-a-real-token") as agent:
            await agent.list_tools()


async def test_mcp_is_post_only_stateless_with_no_stream_to_hold_open(
    client: httpx.AsyncClient, alice_writer: Token
) -> None:
    headers = {"Authorization": f"Bearer {alice_writer.secret}", "Accept": "text/event-stream"}
    for method in ("GET", "DELETE"):
        with anyio.fail_after(5):
            response = await client.request(method, "/mcp", headers=headers)
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST"


async def _alice_world(client: httpx.AsyncClient, db: Database, alice: Account) -> dict[str, str]:
    """A universe, a paper account with a resting order, and an operation, all Alice's."""
    universe = await client.post(
        "/api/v1/universes", json={"name": "Alice's", "symbols": ["AAPL"]}, headers=alice.headers
    )
    assert universe.status_code == 201, universe.text
    account = await client.post(
        "/api/v1/accounts", json={"name": "Main", "starting_cash": "10000"}, headers=alice.headers
    )
    assert account.status_code == 201, account.text
    account_id = account.json()["data"]["id"]
    value = {"symbol": COIN, "price": "100", "as_of": utcnow().isoformat(), "source": "sim"}
    async with db.transaction(system=True) as session:
        await store.store_values(
            session, [Fetched(COIN, "quote", "sim", value, fetched_at=utcnow())], ttls={"quote": 60}
        )
    order = await client.post(
        f"/api/v1/accounts/{account_id}/orders",
        json={"symbol": COIN, "side": "buy", "type": "limit", "qty": "1", "limit_price": "50",
              "time_in_force": "gtc"},
        headers=alice.headers,
    )  # fmt: skip
    assert order.status_code == 201, order.text
    export = await client.post(
        f"/api/v1/universes/{universe.json()['data']['id']}/export", headers=alice.headers
    )
    assert export.status_code == 202, export.text
    return {
        "universe_id": universe.json()["data"]["id"],
        "account_id": account_id,
        "order_id": order.json()["data"]["id"],
        "operation_id": export.json()["data"]["id"],
    }


# The bodies a write tool needs to get past validation (so that its 404 is the ownership check).
_BODIES: dict[str, dict[str, Any]] = {
    "add_assets_to_universe": {"add": ["MSFT"]},
    "reorder_universe_assets": {"symbols": ["AAPL"]},
    "update_universe": {"name": "Bob's now"},
    "update_account": {"name": "Bob's now"},
    "deposit_to_account": {"amount": "1000000", "idempotency_key": "bob-1"},
    "withdraw_from_account": {"amount": "1", "idempotency_key": "bob-2"},
    "place_order": {"symbol": COIN, "side": "buy", "qty": "1"},
    "close_position": {"symbol": COIN},
}


async def test_another_users_token_finds_nothing_of_theirs_through_any_tool(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    alice: Account,
    bob_writer: Token,
    assets: None,
) -> None:
    ids = await _alice_world(client, db, alice)
    owned = [
        tool for tool in app_catalog(app).tools if set(tool.path_params) & set(ids)
    ]  # every tool that takes a universe, account, order or operation id
    assert len(owned) >= 20
    async with mcp_over_asgi(app, bob_writer.secret) as agent:
        for tool in owned:
            arguments = {
                **{name: ids[name] for name in tool.path_params if name in ids},
                **_BODIES.get(tool.name, {}),
            }
            answer = await call(agent, tool.name, **arguments)
            assert answer["metadata"]["status_code"] == 404, (tool.name, answer)
            assert answer["success"] is False
            assert answer["error"]["code"].endswith("not_found"), (tool.name, answer)
        for listing in ("list_universes", "list_accounts", "list_operations"):
            answer = await call(agent, listing)
            assert answer["data"]["items"] == [], listing

    universe = await client.get(f"/api/v1/universes/{ids['universe_id']}", headers=alice.headers)
    account = await client.get(f"/api/v1/accounts/{ids['account_id']}", headers=alice.headers)
    assert (universe.json()["data"]["name"], universe.json()["data"]["asset_count"]) == (
        "Alice's",
        1,
    )
    assert (account.json()["data"]["name"], account.json()["data"]["cash"]) == ("Main", "10000")


async def test_get_operation_waits_for_a_long_operation_to_finish(
    app: FastAPI, alice_writer: Token, assets: None
) -> None:
    async with mcp_over_asgi(app, alice_writer.secret) as agent:
        created = await call(agent, "create_universe", name="To export", symbols=["AAPL", "JPM"])
        universe_id = created["data"]["id"]
        started = await call(agent, "start_universe_export", universe_id=universe_id)
        assert started["metadata"]["status_code"] == 202
        assert "get_operation" in started["next_actions"]
        operation_id = started["data"]["id"]

        done = await call(agent, "get_operation", operation_id=operation_id, wait_seconds=25)
        assert done["data"]["status"] == "succeeded", done

        csv = await call(
            agent, "download_universe_export", universe_id=universe_id, operation_id=operation_id
        )
        assert csv["data"]["content_type"].startswith("text/csv")
        assert "AAPL" in csv["data"]["text"]
        assert "JPM" in csv["data"]["text"]

        at_once = await call(agent, "get_operation", operation_id=str(uuid.uuid4()))
        assert at_once["metadata"]["status_code"] == 404


async def test_get_operation_answers_a_still_running_operation_at_its_timeout(
    app: FastAPI, db: Database, alice: Account, alice_writer: Token
) -> None:
    async with db.transaction(user_id=alice.user.id) as session:
        running = Operation(
            kind="test.elsewhere",
            owner_id=alice.user.id,
            status=OperationStatus.RUNNING,
            lease_owner="another-node:1",  # leased far ahead: no one here resumes it
            lease_expires_at=utcnow() + timedelta(hours=1),
            started_at=utcnow(),
        )
        session.add(running)
        await session.flush()
        operation_id = str(running.id)
    async with mcp_over_asgi(app, alice_writer.secret) as agent:
        started = time.monotonic()
        answer = await call(agent, "get_operation", operation_id=operation_id, wait_seconds=0.6)
        waited = time.monotonic() - started
    assert answer["data"]["status"] == "running"
    assert answer["message"] == "Still running after 0.6 s; call get_operation again to wait more"
    assert answer["next_actions"] == ["get_operation", "cancel_operation"]
    assert 0.6 <= waited < 5


async def test_resources_are_the_callers_universes_accounts_and_positions(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    alice: Account,
    alice_reader: Token,
    bob_writer: Token,
    assets: None,
) -> None:
    ids = await _alice_world(client, db, alice)
    universe_uri = f"quantdesk://universes/{ids['universe_id']}"
    account_uri = f"quantdesk://accounts/{ids['account_id']}"
    async with mcp_over_asgi(app, alice_reader.secret) as agent:
        uris = {str(r.uri) for r in (await agent.list_resources()).resources}
        assert {universe_uri, account_uri, f"{account_uri}/positions"} <= uris
        templates = (await agent.list_resource_templates()).resource_templates
        assert {t.name for t in templates} == {"universe", "account", "positions"}

        read = await agent.read_resource(universe_uri)
        universe = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert universe["name"] == "Alice's"
        assert [m["symbol"] for m in universe["members"]] == ["AAPL"]
        positions = await agent.read_resource(f"{account_uri}/positions")
        assert json.loads(positions.contents[0].text) == {  # type: ignore[union-attr]
            "account_id": ids["account_id"],
            "positions": [],
        }

    async with mcp_over_asgi(app, bob_writer.secret) as agent:
        uris = {str(r.uri) for r in (await agent.list_resources()).resources}
        assert uris == {"quantdesk://universes", "quantdesk://accounts"}
        for uri in (universe_uri, account_uri):
            with pytest.raises(MCPError) as refused:
                await agent.read_resource(uri)
            assert refused.value.code == -32002


async def test_prompts_walk_the_common_flows_by_tool_name(
    app: FastAPI, alice_reader: Token
) -> None:
    tool_names = set(app_catalog(app).names())
    async with mcp_over_asgi(app, alice_reader.secret) as agent:
        prompts = {p.name for p in (await agent.list_prompts()).prompts}
        assert prompts == {"build_universe_from_index", "rebalance_to_equal_weight"}
        built = await agent.get_prompt("build_universe_from_index", {"index": "S&P 500"})
        text = built.messages[0].content.text  # type: ignore[union-attr]
        assert "S&P 500" in text
        rebalance = await agent.get_prompt(
            "rebalance_to_equal_weight", {"account_id": "A1", "universe_id": "U1"}
        )
        steps = rebalance.messages[0].content.text  # type: ignore[union-attr]
        named = set(re.findall(r"`([a-z_]+)`", steps))
        assert {"get_account", "place_order", "list_universe_assets"} <= named
        assert {n for n in named if "_" in n and n.islower()} <= tool_names | {
            "client_order_id", "next_cursor"
        }  # fmt: skip
        with pytest.raises(MCPError):
            await agent.get_prompt("rebalance_to_equal_weight", {"account_id": "A1"})


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_each_call_is_logged_with_the_token_id_and_counted(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice_writer: Token,
    json_log_output: io.StringIO,
    assets: None,
) -> None:
    calls_ok = _sample("quantdesk_mcp_tool_calls_total", tool="search_assets", outcome="ok")
    timed = _sample("quantdesk_mcp_tool_call_duration_seconds_count", tool="search_assets")
    unknown = _sample("quantdesk_mcp_tool_calls_total", tool="other", outcome="unknown_tool")
    invalid = _sample("quantdesk_mcp_tool_calls_total", tool="get_universe", outcome="not_found")
    async with mcp_over_asgi(app, alice_writer.secret) as agent:
        await call(agent, "search_assets", q="micro")
        await call(agent, "search_assets", q="nvidia")
        await agent.call_tool("made_up_tool_name", {})
        await call(agent, "get_universe", universe_id=str(uuid.uuid4()))

    assert _sample("quantdesk_mcp_tool_calls_total", tool="search_assets", outcome="ok") == (
        calls_ok + 2
    )
    assert _sample("quantdesk_mcp_tool_call_duration_seconds_count", tool="search_assets") == (
        timed + 2
    )
    assert _sample("quantdesk_mcp_tool_calls_total", tool="other", outcome="unknown_tool") == (
        unknown + 1
    )
    assert _sample("quantdesk_mcp_tool_calls_total", tool="get_universe", outcome="not_found") == (
        invalid + 1
    )
    scraped = (await client.get("/metrics")).text
    assert 'quantdesk_mcp_tool_calls_total{outcome="ok",tool="search_assets"}' in scraped
    assert "made_up_tool_name" not in scraped

    lines = [json.loads(line) for line in json_log_output.getvalue().splitlines() if line]
    tool_calls = [line for line in lines if line.get("event") == "mcp_tool_call"]
    assert [(c["tool"], c["outcome"]) for c in tool_calls] == [
        ("search_assets", "ok"),
        ("search_assets", "ok"),
        ("other", "unknown_tool"),
        ("get_universe", "not_found"),
    ]
    assert {c["credential_id"] for c in tool_calls} == {alice_writer.id}
    assert all(c["duration_ms"] >= 0 and c["transport"] == "http" for c in tool_calls)
    assert alice_writer.secret not in json_log_output.getvalue()
