"""``GET /ai/tools``: the MCP server's tools as function definitions, for any tool-calling API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from quantdesk.agents.catalog import ToolFormat, app_catalog
from quantdesk.auth import scopes as token_scopes
from quantdesk.auth.dependencies import CurrentPrincipal
from quantdesk.kit.envelope import Envelope, ok

router = APIRouter(prefix="/ai", tags=["ai"])
_FIRST_STEPS = ("search_assets", "list_universes", "create_universe")


@router.get(
    "/tools",
    response_model=Envelope[list[dict[str, Any]]],
    summary="The AI tools you may call, as JSON Schema function definitions",
)
async def list_ai_tools(
    request: Request,
    principal: CurrentPrincipal,
    format: Annotated[
        ToolFormat,
        Query(
            description="openai: Chat Completions `tools` entries; anthropic: Messages API "
            "`tools` entries; mcp: MCP `tools/list` entries (with annotations)"
        ),
    ] = "openai",
) -> Envelope[list[dict[str, Any]]]:
    """The same tools `/mcp` lists for this credential: one per REST operation, named by its
    operation id, described by its summary and description, taking its path and query
    parameters and its JSON body. A read-only API token gets the read tools only.

    Run a tool by calling its operation with the same arguments (or over MCP at `/mcp`)."""
    tools = app_catalog(request.app).for_scopes(principal.scopes)
    scopes = principal.scopes if principal.scopes is not None else token_scopes.FULL_ACCESS
    names = {tool.name for tool in tools}
    return ok(
        [tool.definition(format) for tool in tools],
        f"{len(tools)} tool(s) in the {format} format",
        next_actions=[name for name in _FIRST_STEPS if name in names],
        format=format,
        count=len(tools),
        scopes=list(token_scopes.normalise(scopes)),
        # Which credential this is (the stdio server logs its calls under it).
        credential_id=str(principal.token_id) if principal.token_id else None,
        user_id=str(principal.user.id),
    )
