"""Running a tool: the HTTP request its operation describes, sent through the real API.

Over ``/mcp`` the request goes in process to the same app (``httpx.ASGITransport``) carrying the
caller's token; over stdio it goes to the configured API URL. Either way authentication, scopes,
validation, tenancy and row-level security are the REST API's own, and the answer is its
envelope, which the tool returns as it is.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from quantdesk.agents.catalog import MAX_WAIT_SECONDS, WAIT_ARGUMENT, WAITING_TOOL, Tool
from quantdesk.kit.logging import current_request_id

FINISHED_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
_POLL_START_SECONDS = 0.1
_POLL_MAX_SECONDS = 1.0
_TEXT_PREVIEW = 200_000  # characters of a non-JSON answer (a CSV) handed to the model


@dataclass(frozen=True)
class ToolAnswer:
    status_code: int
    envelope: dict[str, Any]

    @property
    def success(self) -> bool:
        return bool(self.envelope.get("success"))

    @property
    def outcome(self) -> str:
        """The metrics outcome of the call."""
        code = self.status_code
        if code < 400:
            return "ok"
        if code in (401, 403):
            return "denied"
        if code == 404:
            return "not_found"
        return "rejected" if code < 500 else "error"


def local_error(
    status_code: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> ToolAnswer:
    """An envelope for a call refused before it reached the API (same shape as the API's)."""
    return ToolAnswer(
        status_code,
        {
            "success": False,
            "data": None,
            "message": message,
            "next_actions": [],
            "metadata": {"request_id": current_request_id(), "status_code": status_code},
            "error": {"code": code, "details": details or []},
        },
    )


@dataclass(frozen=True)
class PreparedCall:
    method: str
    path: str
    params: dict[str, Any]
    body: Any
    has_body: bool


def build_request(tool: Tool, arguments: Mapping[str, Any]) -> PreparedCall | ToolAnswer:
    """The HTTP request for ``tool`` with these arguments, or the 422 that says why not."""
    known = set(tool.input_schema.get("properties", {}))
    unknown = sorted(set(arguments) - known)
    missing = [name for name in tool.input_schema.get("required", []) if name not in arguments]
    if unknown or missing:
        details = [{"field": name, "reason": "unknown argument"} for name in unknown]
        details += [{"field": name, "reason": "required"} for name in missing]
        return local_error(422, "invalid_arguments", f"Invalid arguments for {tool.name}", details)
    path = tool.path
    for name in tool.path_params:
        path = path.replace(f"{{{name}}}", quote(str(arguments[name]), safe=""))
    params = {
        name: arguments[name]
        for name in tool.query_params
        if name in arguments and arguments[name] is not None
    }
    body: Any = None
    if tool.body_mode == "nested":
        body = arguments.get("body")
    elif tool.body_mode == "flat":
        body = {name: arguments[name] for name in tool.body_fields if name in arguments}
    return PreparedCall(tool.method, path, params, body, tool.body_mode is not None)


def _envelope(response: httpx.Response) -> dict[str, Any]:
    """The API's envelope; a non-JSON answer (a CSV export) wrapped in the same shape."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "success" in body:
            body.setdefault("metadata", {})["status_code"] = response.status_code
            return body
    text = response.text
    return {
        "success": response.is_success,
        "data": {"content_type": content_type, "text": text[:_TEXT_PREVIEW]},
        "message": f"HTTP {response.status_code}: {content_type or 'no content type'}",
        "next_actions": [],
        "metadata": {
            "request_id": response.headers.get("x-request-id"),
            "status_code": response.status_code,
            "truncated": len(text) > _TEXT_PREVIEW,
        },
    }


async def _send(client: httpx.AsyncClient, call: PreparedCall) -> ToolAnswer:
    extra: dict[str, Any] = {"json": call.body} if call.has_body else {}
    try:
        response = await client.request(call.method, call.path, params=call.params, **extra)
    except httpx.HTTPError as exc:
        return local_error(502, "api_unreachable", f"The API did not answer: {type(exc).__name__}")
    return ToolAnswer(response.status_code, _envelope(response))


async def call_tool(
    client: httpx.AsyncClient, tool: Tool, arguments: Mapping[str, Any]
) -> ToolAnswer:
    """Run ``tool`` through the API ``client`` talks to (which carries the caller's token)."""
    arguments = dict(arguments)
    wait = 0.0
    if tool.name == WAITING_TOOL and WAIT_ARGUMENT in arguments:
        try:
            wait = min(max(float(arguments.pop(WAIT_ARGUMENT) or 0), 0.0), MAX_WAIT_SECONDS)
        except (TypeError, ValueError):
            return local_error(
                422,
                "invalid_arguments",
                f"Invalid arguments for {tool.name}",
                [{"field": WAIT_ARGUMENT, "reason": "must be a number of seconds"}],
            )
    request = build_request(tool, arguments)
    if isinstance(request, ToolAnswer):
        return request
    answer = await _send(client, request)
    if wait <= 0:
        return answer
    return await _wait_for_operation(client, request, answer, wait)


async def _wait_for_operation(
    client: httpx.AsyncClient, request: PreparedCall, answer: ToolAnswer, wait: float
) -> ToolAnswer:
    """Ask again until the operation has finished or ``wait`` seconds have passed.

    Polling the endpoint (not the event bus) keeps this identical over stdio and in process,
    and every look is the REST API's, with its tenancy.
    """
    deadline = time.monotonic() + wait
    pause = _POLL_START_SECONDS
    while answer.success and _status(answer) not in FINISHED_STATUSES:
        left = deadline - time.monotonic()
        if left <= 0:
            envelope = answer.envelope
            envelope["message"] = (
                f"Still {_status(answer)} after {wait:g} s; call get_operation again to wait more"
            )
            envelope["next_actions"] = ["get_operation", "cancel_operation"]
            return answer
        await anyio.sleep(min(pause, left))
        pause = min(pause * 2, _POLL_MAX_SECONDS)
        answer = await _send(client, request)
    return answer


def _status(answer: ToolAnswer) -> str | None:
    data = answer.envelope.get("data")
    return data.get("status") if isinstance(data, dict) else None
