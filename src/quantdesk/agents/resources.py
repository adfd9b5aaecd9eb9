"""The caller's things as MCP resources: universes, paper accounts and their positions.

Each read is a tool call underneath (``list_universes``, ``get_universe``, ``get_account``…)
through the same API client, so a resource shows exactly what the caller's token may see.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import mcp_types as types
from mcp.shared.exceptions import MCPError

from quantdesk.agents.calls import ToolAnswer, call_tool
from quantdesk.agents.catalog import Catalog

SCHEME = "quantdesk"
JSON = "application/json"
RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource
_LIST_LIMIT = 100
_MEMBERS_LIMIT = 200

TEMPLATES = [
    types.ResourceTemplate(
        name="universe",
        uri_template=f"{SCHEME}://universes/{{universe_id}}",
        description="A universe and its members",
        mime_type=JSON,
    ),
    types.ResourceTemplate(
        name="account",
        uri_template=f"{SCHEME}://accounts/{{account_id}}",
        description="A paper account: cash, buying power, equity and open positions",
        mime_type=JSON,
    ),
    types.ResourceTemplate(
        name="positions",
        uri_template=f"{SCHEME}://accounts/{{account_id}}/positions",
        description="A paper account's open positions",
        mime_type=JSON,
    ),
]

_UNIVERSES = f"{SCHEME}://universes"
_ACCOUNTS = f"{SCHEME}://accounts"
_UNIVERSE = re.compile(rf"^{SCHEME}://universes/(?P<id>[0-9a-fA-F-]{{36}})$")
_ACCOUNT = re.compile(
    rf"^{SCHEME}://accounts/(?P<id>[0-9a-fA-F-]{{36}})(?P<positions>/positions)?$"
)


async def _data(
    client: httpx.AsyncClient, catalog: Catalog, tool_name: str, arguments: dict[str, Any]
) -> Any:
    tool = catalog.get(tool_name)
    if tool is None:
        raise MCPError(code=RESOURCE_NOT_FOUND, message=f"{tool_name} is not available")
    answer: ToolAnswer = await call_tool(client, tool, arguments)
    if not answer.success:
        code = RESOURCE_NOT_FOUND if answer.status_code == 404 else -32603
        raise MCPError(code=code, message=str(answer.envelope.get("message") or "failed"))
    return answer.envelope.get("data")


async def list_resources(client: httpx.AsyncClient, catalog: Catalog) -> list[types.Resource]:
    """The two lists, then each universe and each paper account (the first page of each)."""
    found = [
        types.Resource(
            name="universes", uri=_UNIVERSES, description="Your universes", mime_type=JSON
        ),
        types.Resource(
            name="accounts", uri=_ACCOUNTS, description="Your paper accounts", mime_type=JSON
        ),
    ]
    universes = await _data(client, catalog, "list_universes", {"limit": _LIST_LIMIT})
    for universe in universes.get("items", []):
        found.append(
            types.Resource(
                name=f"universe: {universe['name']}",
                uri=f"{_UNIVERSES}/{universe['id']}",
                description=universe.get("description") or "A universe and its members",
                mime_type=JSON,
            )
        )
    accounts = await _data(client, catalog, "list_accounts", {"limit": _LIST_LIMIT})
    for account in accounts.get("items", []):
        uri = f"{_ACCOUNTS}/{account['id']}"
        found.append(
            types.Resource(
                name=f"account: {account['name']}",
                uri=uri,
                description="A paper account",
                mime_type=JSON,
            )
        )
        found.append(
            types.Resource(
                name=f"positions: {account['name']}",
                uri=f"{uri}/positions",
                description="Open positions of a paper account",
                mime_type=JSON,
            )
        )
    return found


async def read_resource(
    client: httpx.AsyncClient, catalog: Catalog, uri: str
) -> list[types.TextResourceContents | types.BlobResourceContents]:
    data: Any
    if uri == _UNIVERSES:
        data = await _data(client, catalog, "list_universes", {"limit": _LIST_LIMIT})
    elif uri == _ACCOUNTS:
        data = await _data(client, catalog, "list_accounts", {"limit": _LIST_LIMIT})
    elif found := _UNIVERSE.match(uri):
        universe_id = found["id"]
        data = await _data(client, catalog, "get_universe", {"universe_id": universe_id})
        members = await _data(
            client,
            catalog,
            "list_universe_assets",
            {"universe_id": universe_id, "limit": _MEMBERS_LIMIT},
        )
        data = {
            **data,
            "members": members.get("items", []),
            "more_members": members.get("next_cursor") is not None,
        }
    elif found := _ACCOUNT.match(uri):
        data = await _data(client, catalog, "get_account", {"account_id": found["id"]})
        if found["positions"]:
            data = {"account_id": found["id"], "positions": data.get("positions", [])}
    else:
        raise MCPError(code=RESOURCE_NOT_FOUND, message=f"No resource {uri}")
    return [types.TextResourceContents(uri=uri, mime_type=JSON, text=json.dumps(data, default=str))]
