"""The MCP server: the catalogue's tools, the caller's resources and the desk's prompts.

One server definition, two ways in:

- streamable HTTP at ``/mcp`` on the API process (``McpHttp``): stateless JSON responses, so any
  API process behind a load balancer answers any request; a personal API token is required
  (``Authorization: Bearer``), no token no tools; tools run in process through the app itself;
- stdio (``quantdesk mcp``, ``agents.stdio``): a local process that talks to a configured API URL
  with ``QUANTDESK_API_TOKEN``, so a desktop client (Claude Desktop) reaches any quantdesk.

Every tool call is logged (credential id, never the token; tool; outcome; duration) and counted
in ``quantdesk_mcp_tool_calls_total`` / ``quantdesk_mcp_tool_call_duration_seconds``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import mcp_types as types
from fastapi import FastAPI
from mcp.server.auth.middleware.bearer_auth import (
    AuthenticatedUser,
    BearerAuthBackend,
    RequireAuthMiddleware,
)
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp

from quantdesk import __version__
from quantdesk.agents import prompts, resources
from quantdesk.agents.calls import ToolAnswer, call_tool, local_error
from quantdesk.agents.catalog import Catalog, app_catalog
from quantdesk.auth.dependencies import authenticate_principal
from quantdesk.kit import metrics
from quantdesk.kit.errors import Unauthorized
from quantdesk.kit.logging import current_request_id, get_logger
from quantdesk.kit.security import is_api_token

_log = get_logger("quantdesk.agents")

SERVER_NAME = "quantdesk"
INSTRUCTIONS = """quantdesk: universes (named lists of assets), validated market data, paper
trading. Every tool is a REST operation and answers its envelope: `success`, `data`, `message`,
`next_actions` (the tools that make sense next), `metadata`, and `error` when it failed.
Long operations answer an operation id: call `get_operation` with `wait_seconds` to wait."""
INTERNAL_BASE_URL = "http://quantdesk.internal"
API_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


@dataclass(frozen=True)
class Caller:
    """Who calls: their API token (kept in memory to forward, never logged) and its scopes."""

    token: str = field(repr=False)
    credential_id: str | None
    user_id: str | None
    scopes: frozenset[str] | None


class Gateway(Protocol):
    """How tools reach the API: in process, or over HTTP to a configured URL."""

    def catalog(self) -> Catalog: ...

    def client(self, caller: Caller) -> AbstractAsyncContextManager[httpx.AsyncClient]: ...


class InProcessGateway:
    """The app itself, through ``httpx.ASGITransport``: the REST API's every rule applies."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def catalog(self) -> Catalog:
        return app_catalog(self.app)

    @asynccontextmanager
    async def client(self, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
        headers = {"Authorization": f"Bearer {caller.token}", "User-Agent": "quantdesk-mcp"}
        request_id = current_request_id()
        if request_id:
            headers["X-Request-ID"] = request_id  # the tool's API call logs under the MCP call's id
        # An unhandled error is the app's 500 envelope (as a REST client sees it), not a raise.
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url=INTERNAL_BASE_URL, headers=headers, timeout=API_TIMEOUT
        ) as client:
            yield client


class RemoteGateway:
    """A quantdesk API at ``api_url``, its catalogue read from its own ``/openapi.json``."""

    def __init__(self, api_url: str, catalog: Catalog) -> None:
        self.api_url = api_url.rstrip("/")
        self._catalog = catalog

    def catalog(self) -> Catalog:
        return self._catalog

    @asynccontextmanager
    async def client(self, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
        headers = {"Authorization": f"Bearer {caller.token}", "User-Agent": "quantdesk-mcp"}
        async with httpx.AsyncClient(
            base_url=self.api_url, headers=headers, timeout=API_TIMEOUT
        ) as client:
            yield client


CallerOf = Callable[[ServerRequestContext[Any, Any]], Caller]


def _tool_result(answer: ToolAnswer) -> types.CallToolResult:
    envelope = answer.envelope
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(envelope, default=str))],
        structured_content=envelope,
        is_error=not answer.success,
    )


def _only_callable_next_actions(answer: ToolAnswer, catalog: Catalog, caller: Caller) -> None:
    """``next_actions`` name operation ids; for an agent, only the tools it can call are kept
    (not the CSV upload, nor a write tool for a read-only token)."""
    actions = answer.envelope.get("next_actions")
    if isinstance(actions, list):
        callable_names = {tool.name for tool in catalog.for_scopes(caller.scopes)}
        answer.envelope["next_actions"] = [name for name in actions if name in callable_names]


def build_server(gateway: Gateway, caller_of: CallerOf, *, transport: str) -> Server[Any]:
    """The MCP server over ``gateway``; ``caller_of`` says who sent a request."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        caller = caller_of(ctx)
        tools = gateway.catalog().for_scopes(caller.scopes)
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=tool.name,
                    description=tool.description,
                    input_schema=tool.input_schema,
                    annotations=types.ToolAnnotations(
                        read_only_hint=tool.read_only,
                        destructive_hint=tool.method == "DELETE",
                        idempotent_hint=tool.method in ("GET", "PUT", "DELETE"),
                        open_world_hint=False,
                    ),
                )
                for tool in tools
            ]
        )

    async def on_call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        caller = caller_of(ctx)
        started = time.perf_counter()
        tool = gateway.catalog().get(params.name)
        if tool is None:
            answer = local_error(404, "unknown_tool", f"No tool named {params.name!r}")
            outcome, label = "unknown_tool", metrics.OTHER  # a made-up name never becomes a label
        else:
            # Refused or not, the API decides (a read-only token's write call is its 403).
            try:
                async with gateway.client(caller) as client:
                    answer = await call_tool(client, tool, params.arguments or {})
            except Exception:
                _log.exception("mcp_tool_failed", tool=tool.name, transport=transport)
                answer = local_error(500, "internal_error", "The tool failed; see the server log")
            outcome, label = answer.outcome, tool.name
            _only_callable_next_actions(answer, gateway.catalog(), caller)
        seconds = time.perf_counter() - started
        metrics.mcp_tool_call(label, outcome, seconds)
        _log.info(
            "mcp_tool_call",
            tool=label,
            outcome=outcome,
            status_code=answer.status_code,
            duration_ms=round(seconds * 1000, 1),
            # Key names containing "token" are redacted by the log pipeline.
            credential_id=caller.credential_id,
            user_id=caller.user_id,
            transport=transport,
        )
        return _tool_result(answer)

    async def list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        async with gateway.client(caller_of(ctx)) as client:
            found = await resources.list_resources(client, gateway.catalog())
        return types.ListResourcesResult(resources=found)

    async def list_templates(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=resources.TEMPLATES)

    async def read_resource(
        ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        async with gateway.client(caller_of(ctx)) as client:
            contents = await resources.read_resource(client, gateway.catalog(), params.uri)
        return types.ReadResourceResult(contents=contents)

    async def list_prompts(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=prompts.PROMPTS)

    async def get_prompt(
        ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        return prompts.render(params.name, params.arguments or {})

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=on_call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


# --- streamable HTTP on the API process ----------------------------------------------------------


class ApiTokenVerifier:
    """The MCP SDK's ``TokenVerifier``: a live personal API token (not a login JWT) of an active
    user, checked by the same code as the REST API's."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def verify_token(self, token: str) -> AccessToken | None:
        if not is_api_token(token):
            return None
        try:
            async with self.app.state.db.transaction() as session:
                principal = await authenticate_principal(session, self.app.state.settings, token)
        except Unauthorized:
            return None
        return AccessToken(
            token=token,
            client_id=str(principal.token_id),
            subject=str(principal.user.id),
            scopes=sorted(principal.scopes or ()),
        )


def caller_from_request(ctx: ServerRequestContext[Any, Any]) -> Caller:
    """The caller the bearer middleware authenticated for this HTTP request."""
    request = ctx.request
    user = request.scope.get("user") if request is not None else None
    if not isinstance(user, AuthenticatedUser):  # RequireAuthMiddleware lets none through
        raise MCPError(code=-32001, message="Authentication required")
    access = user.access_token
    return Caller(
        token=access.token,
        credential_id=access.client_id,
        user_id=access.subject,
        scopes=frozenset(access.scopes),
    )


class McpHttp:
    """``/mcp``: the SDK's stateless streamable-HTTP manager behind its bearer-token check."""

    def __init__(self, app: FastAPI) -> None:
        self.server = build_server(InProcessGateway(app), caller_from_request, transport="http")
        # Stateless and JSON: no session to pin to one process, no stream held open.
        self.manager = StreamableHTTPSessionManager(
            app=self.server, json_response=True, stateless=True
        )
        endpoint: ASGIApp = RequireAuthMiddleware(StreamableHTTPASGIApp(self.manager), [])
        self.asgi: ASGIApp = AuthenticationMiddleware(
            endpoint, backend=BearerAuthBackend(ApiTokenVerifier(app))
        )
        self._running = AsyncExitStack()

    async def start(self) -> None:
        await self._running.enter_async_context(self.manager.run())

    async def stop(self) -> None:
        await self._running.aclose()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)


def mount(app: FastAPI) -> McpHttp:
    """Serve MCP at ``/mcp`` (start and stop it from the app's lifespan)."""
    from starlette.routing import Route

    mcp_http = McpHttp(app)
    # POST only: stateless, there is no session to stream to (GET) or end (DELETE); the spec
    # lets such a server answer GET with 405, and a GET stream would hold a task per client.
    app.router.routes.append(Route("/mcp", endpoint=mcp_http, methods=["POST"]))
    app.state.mcp = mcp_http
    return mcp_http
