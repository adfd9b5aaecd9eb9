"""The tool catalogue is the OpenAPI document: every /api/v1 operation is a tool or explicitly
excluded, each tool stands alone as JSON Schema, and GET /ai/tools lists the same tools in each
vendor's format, filtered by the token's scopes."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator

from quantdesk.agents.catalog import (
    EXCLUDED,
    INCLUDED,
    api_operations,
    app_catalog,
    build_catalog,
)
from tests.agents.conftest import Token
from tests.factories import Account

_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # OpenAI's and Anthropic's rule


@pytest.fixture
def openapi(app: FastAPI) -> dict[str, Any]:
    """The app's own OpenAPI document, as /openapi.json serves it."""
    return app.openapi()


def test_every_api_operation_is_a_tool_or_explicitly_excluded(openapi: dict[str, Any]) -> None:
    catalog = build_catalog(openapi)
    tools = set(catalog.names())
    operations = {operation["operationId"] for _, _, operation in api_operations(openapi)}
    undecided = sorted(operations - tools - set(EXCLUDED))
    assert undecided == [], (
        f"{undecided}: give each a tool tag (quantdesk.agents.catalog.TOOL_TAGS) or add it to "
        "EXCLUDED with the reason"
    )
    assert catalog.unsupported == {}
    assert tools <= operations
    assert not tools & set(EXCLUDED)
    # No stale entries: every exclusion and inclusion names an operation that exists.
    assert set(EXCLUDED) | INCLUDED <= operations
    assert {"login", "create_api_token", "switch_market_engine"} <= set(EXCLUDED)


def test_each_tool_is_its_operation_as_a_standalone_json_schema(openapi: dict[str, Any]) -> None:
    catalog = build_catalog(openapi)
    by_id = {op["operationId"]: (method, path, op) for method, path, op in api_operations(openapi)}
    for tool in catalog.tools:
        method, path, operation = by_id[tool.name]
        assert (tool.method, tool.path) == (method, path)
        assert _FUNCTION_NAME.match(tool.name)
        assert tool.description.startswith(operation["summary"])
        Draft202012Validator.check_schema(tool.input_schema)
        assert "$ref" not in json.dumps(tool.input_schema), tool.name
        properties = tool.input_schema["properties"]
        parameters = {p["name"]: p for p in operation.get("parameters", [])}
        assert set(parameters) <= set(properties), tool.name
        assert {n for n, p in parameters.items() if p["in"] == "path"} <= set(
            tool.input_schema.get("required", [])
        )
        assert tool.read_only is (method == "GET")

    place_order = catalog.get("place_order")
    assert place_order is not None
    assert {"account_id", "symbol", "side", "qty", "limit_price"} <= set(
        place_order.input_schema["properties"]
    )
    assert set(place_order.input_schema["required"]) == {"account_id", "symbol", "side"}
    get_operation = catalog.get("get_operation")
    assert get_operation is not None
    assert get_operation.input_schema["properties"]["wait_seconds"]["maximum"] == 30


async def _tools(client: httpx.AsyncClient, token: str, fmt: str | None) -> httpx.Response:
    params = {"format": fmt} if fmt else {}
    return await client.get(
        "/api/v1/ai/tools", params=params, headers={"Authorization": f"Bearer {token}"}
    )


async def test_ai_tools_lists_the_same_tools_in_openai_anthropic_and_mcp_formats(
    app: FastAPI, client: httpx.AsyncClient, alice_writer: Token, alice_reader: Token
) -> None:
    catalog = app_catalog(app)
    default = await _tools(client, alice_writer.secret, None)
    openai = await _tools(client, alice_writer.secret, "openai")
    assert default.json()["data"] == openai.json()["data"]
    body = openai.json()
    assert body["metadata"]["format"] == "openai"
    assert body["metadata"]["count"] == len(catalog.tools)
    assert body["metadata"]["scopes"] == ["read", "write"]
    assert body["metadata"]["credential_id"] == alice_writer.id
    assert body["next_actions"] == ["search_assets", "list_universes", "create_universe"]
    for entry, tool in zip(body["data"], catalog.tools, strict=True):
        assert entry == {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.input_schema,
            },
        }

    anthropic = (await _tools(client, alice_writer.secret, "anthropic")).json()["data"]
    assert [set(entry) for entry in anthropic] == [{"name", "description", "input_schema"}] * len(
        catalog.tools
    )
    assert [entry["name"] for entry in anthropic] == catalog.names()
    mcp = (await _tools(client, alice_writer.secret, "mcp")).json()["data"]
    assert [entry["inputSchema"] for entry in mcp] == [t.input_schema for t in catalog.tools]
    assert {e["name"] for e in mcp if e["annotations"]["readOnlyHint"]} == {
        t.name for t in catalog.tools if t.method == "GET"
    }

    reader = (await _tools(client, alice_reader.secret, "anthropic")).json()
    assert reader["metadata"]["scopes"] == ["read"]
    assert {e["name"] for e in reader["data"]} == {
        t.name for t in catalog.tools if t.method == "GET"
    }
    assert "place_order" not in {e["name"] for e in reader["data"]}
    assert reader["next_actions"] == ["search_assets", "list_universes"]


async def test_ai_tools_needs_a_credential_and_a_known_format(
    client: httpx.AsyncClient, alice: Account, alice_writer: Token
) -> None:
    assert (await client.get("/api/v1/ai/tools")).status_code == 401
    wrong = await _tools(client, alice_writer.secret, "cobol")
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"][0]["field"] == "format"
    # A login session is unscoped: every tool.
    session = await client.get("/api/v1/ai/tools", headers=alice.headers)
    assert session.json()["metadata"]["scopes"] == ["read", "write"]
    assert session.json()["metadata"]["credential_id"] is None
