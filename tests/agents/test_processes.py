"""The MCP server as a client meets it: a real `quantdesk serve` process (one for the module, on
SQLite) reached with the SDK's client over streamable HTTP, and `quantdesk mcp` processes
speaking stdio to it. The in-process tests (test_mcp_http.py) cover the rest on both engines."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.migrations import run_migration
from tests.agents.support import call, mcp_over_http
from tests.conftest import TEST_JWT_SECRET
from tests.factories import create_api_token, create_user, ensure_assets
from tests.topology.harness import QUANTDESK, ApiProcess, environment


@dataclass(frozen=True)
class Served:
    api: ApiProcess
    home: Path
    alice: str  # read write
    alice_id: str  # that token's id
    alice_reader: str  # read
    bob: str  # read write


@pytest.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    home = tmp_path_factory.mktemp("mcp")
    url = f"sqlite+aiosqlite:///{home / 'quantdesk.db'}"
    await run_migration(url, "upgrade", "head")
    settings = Settings(environment="test", database_url=url, jwt_secret=TEST_JWT_SECRET)  # type: ignore[arg-type]
    db = Database(settings)
    try:
        await ensure_assets(db)
        alice = await create_user(db, settings, email="alice@example.com")
        bob = await create_user(db, settings, email="bob@example.com")
        alice_token, alice_secret = await create_api_token(db, alice.user)
        _, reader_secret = await create_api_token(db, alice.user, scopes="read")
        _, bob_secret = await create_api_token(db, bob.user)
    finally:
        await db.dispose()
    env = environment(
        {
            "QUANTDESK_DATABASE_URL": url,
            "QUANTDESK_JWT_SECRET": TEST_JWT_SECRET,
            "QUANTDESK_PROVIDERS": "sim",
            "QUANTDESK_LOG_LEVEL": "INFO",
        }
    )
    api = ApiProcess("api", env, home)
    api.start()
    try:
        api.wait_ready()
        yield Served(api, home, alice_secret, str(alice_token.id), reader_secret, bob_secret)
    finally:
        api.stop()


async def test_over_http_an_agent_builds_a_universe_that_no_one_else_sees(
    served: Served,
) -> None:
    url = served.api.url
    async with mcp_over_http(url, served.alice) as agent:
        names = {tool.name for tool in (await agent.list_tools()).tools}
        assert {"search_assets", "create_universe", "add_assets_to_universe"} <= names
        found = await call(agent, "search_assets", q="nvidia")
        assert found["data"]["items"][0]["symbol"] == "NVDA"
        created = await call(agent, "create_universe", name="Chips")
        universe_id = created["data"]["id"]
        added = await call(agent, "add_assets_to_universe", universe_id=universe_id, add=["NVDA"])
        assert added["success"] is True, added
        members = await call(agent, "list_universe_assets", universe_id=universe_id)
        assert [m["symbol"] for m in members["data"]["items"]] == ["NVDA"]

    async with mcp_over_http(url, served.bob) as other:
        for tool, arguments in (
            ("get_universe", {}),
            ("list_universe_assets", {}),
            ("add_assets_to_universe", {"add": ["AAPL"]}),
            ("delete_universe", {}),
        ):
            answer = await call(other, tool, universe_id=universe_id, **arguments)
            assert answer["error"]["code"] == "universe_not_found", (tool, answer)
        assert (await call(other, "list_universes"))["data"]["items"] == []

    async with mcp_over_http(url, served.alice_reader) as reader:
        names = {tool.name for tool in (await reader.list_tools()).tools}
        assert "create_universe" not in names
        assert "get_universe" in names
        refused = await call(reader, "delete_universe", universe_id=universe_id)
        assert refused["error"]["code"] == "insufficient_scope"
        kept = await call(reader, "get_universe", universe_id=universe_id)
        assert kept["data"]["asset_count"] == 1

    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{url}/metrics")).text
    assert 'quantdesk_mcp_tool_calls_total{outcome="ok",tool="create_universe"} 1.0' in metrics
    assert 'quantdesk_mcp_tool_calls_total{outcome="denied",tool="delete_universe"} 1.0' in metrics
    assert 'quantdesk_mcp_tool_calls_total{outcome="not_found",tool="get_universe"} 1.0' in metrics
    log = served.api.log_path.read_text()
    assert '"event": "mcp_tool_call"' in log
    assert f'"credential_id": "{served.alice_id}"' in log
    assert served.alice not in log


async def test_over_http_an_invalid_token_gets_no_tools(served: Served) -> None:
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{served.api.url}/mcp",
            json=listing,
            headers={"Authorization": "Bearer qd_forged", "Accept": "application/json"},
        )
    assert response.status_code == 401
    assert "create_universe" not in response.text
    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's own refusal, whatever its type
        async with mcp_over_http(served.api.url, "qd_forged") as agent:
            await agent.list_tools()


def _stdio(served: Served, token: str) -> StdioServerParameters:
    cwd = served.home / "stdio"
    cwd.mkdir(exist_ok=True)  # no checkout .env is read from here
    return StdioServerParameters(
        command=str(QUANTDESK),
        args=["mcp"],
        cwd=cwd,
        env={"QUANTDESK_API_URL": served.api.url, "QUANTDESK_API_TOKEN": token},
    )


async def test_over_stdio_the_same_tools_reach_the_same_server(served: Served) -> None:
    async with mcp_over_http(served.api.url, served.alice) as over_http:
        http_tools = [t.model_dump() for t in (await over_http.list_tools()).tools]

    async with Client(_stdio(served, served.alice)) as agent:
        assert [t.model_dump() for t in (await agent.list_tools()).tools] == http_tools
        found = await call(agent, "search_assets", q="microsoft")
        assert found["data"]["items"][0]["symbol"] == "MSFT"
        created = await call(agent, "create_universe", name="Over stdio", symbols=["MSFT"])
        universe_id = created["data"]["id"]
        await call(agent, "add_assets_to_universe", universe_id=universe_id, add=["AAPL"])
        members = await call(agent, "list_universe_assets", universe_id=universe_id)
        assert sorted(m["symbol"] for m in members["data"]["items"]) == ["AAPL", "MSFT"]

    async with Client(_stdio(served, served.alice_reader)) as reader:
        names = {tool.name for tool in (await reader.list_tools()).tools}
        assert "place_order" not in names
        refused = await call(reader, "create_universe", name="Read only")
        assert refused["error"]["code"] == "insufficient_scope"

    # A forged token: the process says why and exits before serving anything.
    with anyio.fail_after(60):
        refused_run = await anyio.run_process(
            [str(QUANTDESK), "mcp"],
            cwd=served.home / "stdio",
            env={
                **environment({}),
                "QUANTDESK_API_URL": served.api.url,
                "QUANTDESK_API_TOKEN": "x",
            },
            stdin=subprocess.DEVNULL,
            check=False,
        )
    assert refused_run.returncode == 2
    assert b"refused the token (401)" in refused_run.stderr
