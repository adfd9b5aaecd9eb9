"""Helpers of the agent tests: the MCP SDK's own client, and reading a tool's envelope."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent


@asynccontextmanager
async def mcp_over_asgi(app: FastAPI, token: str | None) -> AsyncIterator[Client]:
    """The SDK client over streamable HTTP to ``/mcp`` of the in-process app."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )
    async with http, Client(streamable_http_client("http://testserver/mcp", http_client=http)) as c:
        yield c


@asynccontextmanager
async def mcp_over_http(url: str, token: str | None) -> AsyncIterator[Client]:
    """The SDK client over streamable HTTP to a real server's ``/mcp``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=30.0)
    async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http)) as c:
        yield c


def envelope(result: CallToolResult) -> dict[str, Any]:
    """The tool's envelope, from its structured content and, identically, its text."""
    assert isinstance(result.structured_content, dict), result
    text = result.content[0]
    assert isinstance(text, TextContent)
    assert json.loads(text.text) == result.structured_content
    return result.structured_content


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    body = envelope(result)
    assert result.is_error is (not body["success"]), body
    return body
