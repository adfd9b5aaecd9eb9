"""The AI tool catalogue, generated from the OpenAPI operations: one tool per chosen operation.

A tool's name is the operation id (the names ``next_actions`` already use), its description is
the operation's summary and description, and its input schema is the operation's path and query
parameters plus its JSON body. Nothing here is written per endpoint: a new ``/api/v1`` operation
under a tool tag is a tool at once, and one under a new tag fails
``tests/agents/test_catalog.py`` until it is either given a tool tag or excluded below.

Why hand-written: fastapi-mcp and FastMCP's OpenAPI import make one tool per route for one
transport each; we need the same catalogue for streamable HTTP (in process), stdio (from a
remote server's ``/openapi.json``) and ``GET /ai/tools`` in two vendors' formats, filtered by the
caller's token scopes. The OpenAPI walk below is what those libraries do too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from quantdesk.auth import scopes as token_scopes

API_PREFIX = "/api/v1"

# Operations under these OpenAPI tags are tools unless excluded below.
# "vault" is the research vault's (issue: file organising), a tool domain as soon as it lands.
TOOL_TAGS = frozenset(
    {"assets", "market data", "universes", "paper trading", "operations", "vault"}
)
# Operations outside the tool tags that are tools all the same.
INCLUDED = frozenset({"get_me"})  # who the agent acts for
# Operations that are never tools, and why. No auth or admin plumbing, nothing an agent can't send.
EXCLUDED: Mapping[str, str] = {
    "signup": "account plumbing",
    "login": "account plumbing: an agent holds a personal API token instead",
    "refresh_token": "account plumbing",
    "logout": "account plumbing",
    "update_me": "account plumbing: email and password are the person's",
    "create_api_token": "token plumbing: an agent must not mint credentials",
    "list_api_tokens": "token plumbing",
    "revoke_api_token": "token plumbing",
    "get_status": "service health, for monitors",
    "update_market_data_type": "admin: changes what every user shares",
    "switch_market_engine": "admin: changes what every user shares",
    "list_market_audit": "admin",
    "import_universe_csv": "a multipart upload; agents add symbols with add_assets_to_universe",
    "list_ai_tools": "the catalogue itself: an agent already has its tools",
    "upload_vault_file": "a raw byte stream, not JSON arguments; people add files (dashboard, CLI)",
    "download_vault_file": "raw bytes of any size, not an envelope; agents read the inventory "
    "(list_vault_files) and the categories instead",
}

# get_operation waits (polling the real endpoint) until the operation ends or this many seconds.
WAIT_ARGUMENT = "wait_seconds"
MAX_WAIT_SECONDS = 30  # under the usual 60 s idle timeout of a proxy in front of /mcp
WAITING_TOOL = "get_operation"

ToolFormat = Literal["openai", "anthropic", "mcp"]
_METHODS = ("get", "post", "put", "patch", "delete")
_BODY_ARGUMENT = "body"


class UnsupportedOperation(ValueError):
    """An operation the catalogue cannot turn into a tool (e.g. a non-JSON body)."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    method: str
    path: str  # the full template, e.g. /api/v1/universes/{universe_id}
    input_schema: dict[str, Any]
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    # How the JSON body is sent: None (no body), "flat" (its properties are top-level arguments)
    # or "nested" (the whole body is the "body" argument).
    body_mode: Literal["flat", "nested"] | None = None
    body_fields: tuple[str, ...] = ()
    scope: str = token_scopes.READ

    @property
    def read_only(self) -> bool:
        return self.scope == token_scopes.READ

    def definition(self, fmt: ToolFormat) -> dict[str, Any]:
        """The tool as a function definition in a vendor's format."""
        if fmt == "openai":
            return {
                "type": "function",
                "function": {
                    "name": self.name,
                    "description": self.description,
                    "parameters": self.input_schema,
                },
            }
        if fmt == "anthropic":
            return {
                "name": self.name,
                "description": self.description,
                "input_schema": self.input_schema,
            }
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": self.annotations(),
        }

    def annotations(self) -> dict[str, Any]:
        return {
            "readOnlyHint": self.read_only,
            "destructiveHint": self.method == "DELETE",
            "idempotentHint": self.method in ("GET", "PUT", "DELETE"),
            "openWorldHint": False,
        }


@dataclass(frozen=True)
class Catalog:
    tools: tuple[Tool, ...]
    # Operations of /api/v1 that are tools by the rules but could not be built, and why.
    unsupported: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> Tool | None:
        return next((tool for tool in self.tools if tool.name == name), None)

    def names(self) -> list[str]:
        return [tool.name for tool in self.tools]

    def for_scopes(self, scopes: Iterable[str] | None) -> list[Tool]:
        """The tools a credential with these scopes may call (None: a login session, all)."""
        if scopes is None:
            return list(self.tools)
        allowed = set(scopes)
        return [tool for tool in self.tools if tool.scope in allowed]


def is_tool_operation(operation_id: str, tags: Iterable[str]) -> bool:
    """Whether an ``/api/v1`` operation is a tool by the rules above."""
    if operation_id in EXCLUDED:
        return False
    return operation_id in INCLUDED or any(tag in TOOL_TAGS for tag in tags)


def api_operations(openapi: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every ``/api/v1`` operation of the document: (method, path, operation)."""
    found = []
    for path, item in openapi.get("paths", {}).items():
        if not path.startswith(f"{API_PREFIX}/"):
            continue
        for method in _METHODS:
            operation = item.get(method)
            if operation is not None:
                found.append((method.upper(), path, operation))
    return found


def build_catalog(openapi: Mapping[str, Any]) -> Catalog:
    """The tools of an OpenAPI document (this app's, or a remote server's ``/openapi.json``)."""
    tools: list[Tool] = []
    unsupported: dict[str, str] = {}
    for method, path, operation in api_operations(openapi):
        operation_id = operation.get("operationId", "")
        if not is_tool_operation(operation_id, operation.get("tags", [])):
            continue
        try:
            tools.append(_tool(openapi, method, path, operation))
        except UnsupportedOperation as exc:
            unsupported[operation_id] = str(exc)
    tools.sort(key=lambda tool: tool.name)
    return Catalog(tools=tuple(tools), unsupported=unsupported)


def _tool(openapi: Mapping[str, Any], method: str, path: str, operation: dict[str, Any]) -> Tool:
    name = operation["operationId"]
    properties: dict[str, Any] = {}
    required: list[str] = []
    path_params: list[str] = []
    query_params: list[str] = []
    for parameter in operation.get("parameters", []):
        parameter = _resolve(openapi, parameter)
        where, param_name = parameter.get("in"), parameter["name"]
        if where not in ("path", "query"):
            continue  # headers and cookies are the transport's (the caller's token)
        schema = _inline(openapi, parameter.get("schema", {}))
        if parameter.get("description") and "description" not in schema:
            schema["description"] = parameter["description"]
        properties[param_name] = schema
        if parameter.get("required") or where == "path":
            required.append(param_name)
        (path_params if where == "path" else query_params).append(param_name)

    body_mode: Literal["flat", "nested"] | None = None
    body_fields: tuple[str, ...] = ()
    body_schema: dict[str, Any] = {}
    body = operation.get("requestBody")
    if body is not None:
        body = _resolve(openapi, body)
        content = body.get("content", {})
        if "application/json" not in content:
            raise UnsupportedOperation(f"{name}: a body of {sorted(content)}, not JSON")
        body_schema = _inline(openapi, content["application/json"].get("schema", {}))
        body_properties = body_schema.get("properties")
        flat = (
            body_schema.get("type") == "object"
            and isinstance(body_properties, dict)
            and not set(body_properties) & set(properties)
        )
        if flat and isinstance(body_properties, dict):
            body_mode, body_fields = "flat", tuple(body_properties)
            properties.update(body_properties)
            required.extend(body_schema.get("required", []))
        else:
            body_mode = "nested"
            properties[_BODY_ARGUMENT] = body_schema
            if body.get("required"):
                required.append(_BODY_ARGUMENT)

    if name == WAITING_TOOL:
        properties[WAIT_ARGUMENT] = {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_WAIT_SECONDS,
            "default": 0,
            "description": "Wait up to this many seconds for the operation to finish "
            "(succeeded, failed or cancelled) before answering; 0 answers at once",
        }

    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = list(dict.fromkeys(required))
    # Unknown arguments are refused, not dropped: a misspelt filter must not widen a search.
    input_schema["additionalProperties"] = False
    scope = token_scopes.required_scope(method)
    return Tool(
        name=name,
        description=_description(operation, scope),
        method=method,
        path=path,
        input_schema=input_schema,
        path_params=tuple(path_params),
        query_params=tuple(query_params),
        body_mode=body_mode,
        body_fields=body_fields,
        scope=scope,
    )


def _description(operation: Mapping[str, Any], scope: str) -> str:
    parts = [operation.get("summary", "").strip(), operation.get("description", "").strip()]
    tier = (
        "Read-only."
        if scope == token_scopes.READ
        else "Changes data: needs an API token with the write scope."
    )
    text = "\n\n".join(part for part in parts if part)
    return f"{text}\n\n{tier}" if text else tier


def _resolve(openapi: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """A ``$ref``'d component (parameter, body, schema) as the object it points at."""
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            raise UnsupportedOperation(f"unresolvable reference {ref}")
        seen.add(ref)
        target: Any = openapi
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return dict(node)


def _inline(openapi: Mapping[str, Any], schema: Any, trail: tuple[str, ...] = ()) -> Any:
    """A copy of ``schema`` with every ``$ref`` replaced by its target, so that each tool's
    schema stands alone (function-calling APIs take no shared components). A recursive schema
    is cut at its second visit to ``{}`` (any value), which no current body has."""
    if isinstance(schema, list):
        return [_inline(openapi, item, trail) for item in schema]
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in trail:
            return {}
        target = _resolve(openapi, {"$ref": ref})
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        return _inline(openapi, {**target, **siblings}, (*trail, ref))
    return {key: _inline(openapi, value, trail) for key, value in schema.items()}


def app_catalog(app: Any) -> Catalog:
    """This app's catalogue (a FastAPI app), built once from its own OpenAPI document."""
    catalog: Catalog | None = getattr(app.state, "agent_catalog", None)
    if catalog is None:
        catalog = build_catalog(app.openapi())
        app.state.agent_catalog = catalog
    return catalog
