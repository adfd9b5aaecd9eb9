"""``quantdesk mcp``: the MCP server over stdio, for a desktop client (Claude Desktop).

It runs no application of its own: it talks to a quantdesk API (``QUANTDESK_API_URL``) with a
personal API token (``QUANTDESK_API_TOKEN``), reads that server's ``/openapi.json`` to build the
same catalogue as ``/mcp`` (so it always matches the server's version), and forwards each tool
call as the REST request. Running the app in process instead would start a second scheduler and
market engine against the same database; a thin client has none of that.
"""

from __future__ import annotations

from typing import Any

import httpx
from mcp.server.stdio import stdio_server

from quantdesk.agents.catalog import build_catalog
from quantdesk.agents.server import API_TIMEOUT, Caller, RemoteGateway, build_server


class StdioRefused(Exception):
    """The API could not be reached, or refused the token: no tools to serve."""


async def connect(api_url: str, token: str) -> tuple[RemoteGateway, Caller]:
    """Check the token against the API and read its catalogue."""
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "quantdesk-mcp"}
    try:
        async with httpx.AsyncClient(
            base_url=api_url.rstrip("/"), headers=headers, timeout=API_TIMEOUT
        ) as http:
            who = await http.get("/api/v1/ai/tools", params={"format": "mcp"})
            if who.status_code in (401, 403):
                raise StdioRefused(
                    f"the API at {api_url} refused the token ({who.status_code}): "
                    "make one with `quantdesk user token EMAIL` (add --read-only for read tools)"
                )
            who.raise_for_status()
            spec: dict[str, Any] = (await http.get("/openapi.json")).raise_for_status().json()
    except httpx.HTTPError as exc:
        raise StdioRefused(
            f"cannot reach the API at {api_url}: {exc or type(exc).__name__}"
        ) from exc
    metadata = who.json().get("metadata", {})
    caller = Caller(
        token=token,
        credential_id=metadata.get("credential_id"),
        user_id=metadata.get("user_id"),
        scopes=frozenset(metadata.get("scopes", [])),
    )
    return RemoteGateway(api_url, build_catalog(spec)), caller


async def run_stdio(api_url: str, token: str) -> None:
    gateway, caller = await connect(api_url, token)
    server = build_server(gateway, lambda _ctx: caller, transport="stdio")
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
