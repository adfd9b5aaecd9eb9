"""ASGI middleware: request ids, security headers, access log, body size and NUL-byte guards."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quantdesk.kit.envelope import error_body
from quantdesk.kit.errors import PayloadTooLarge
from quantdesk.kit.logging import bind_request_id, get_logger, reset_request_id

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
REQUEST_ID_SCOPE_KEY = "quantdesk.request_id"
_log = get_logger("quantdesk.access")

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# The API serves JSON only; the interactive docs page needs its scripts, so it is left out.
_API_CSP = "default-src 'none'; frame-ancestors 'none'"


class RequestContextMiddleware:
    """Takes ``X-Request-ID`` from the request (or makes one), echoes it and binds it to logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Kept in the scope too: Starlette answers a 500 outside this middleware, once reset.
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        token = bind_request_id(request_id)
        started = time.perf_counter()
        status_code = 0
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if path.startswith("/api/") or path.startswith("/health"):
                    headers.setdefault("Content-Security-Policy", _API_CSP)
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if scope["type"] == "http":
                _log.info(
                    "request",
                    method=scope.get("method"),
                    path=path,
                    status=status_code,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            reset_request_id(token)


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with an enveloped 413, before they are buffered.

    A declared Content-Length is checked up front; a streamed body is counted as it arrives.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        limit_for: Callable[[Scope], int | None] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # A route that takes large bodies (vault uploads) names its own limit for its requests.
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = (self.limit_for(scope) if self.limit_for else None) or self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, receive, send, max_bytes)
            return
        received = 0
        exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    exceeded = True
                    raise PayloadTooLarge(self._message(max_bytes))
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app made of the aborted read (FastAPI says 400), the answer is 413.
            if not exceeded:
                await send(message)

        with contextlib.suppress(PayloadTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded:
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        body = error_body(code="payload_too_large", message=self._message(max_bytes))
        await JSONResponse(body, status_code=413)(scope, receive, send)

    def _message(self, max_bytes: int) -> str:
        return f"The request body is larger than {max_bytes // (1024 * 1024)} MiB"


def _nul_location(scope: Scope) -> tuple[str, str] | None:
    """(location, field) of the first NUL character in the path or the query string, if any."""
    if "\x00" in scope.get("path", ""):
        return "path", "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return "query", name.replace("\x00", "") or "query"
    return None


class NulByteGuardMiddleware:
    """Refuses a NUL character in the path or query string with an enveloped 422.

    No text the API looks up or stores may hold NUL (PostgreSQL refuses it, so it would be a 500
    there and a silent miss on SQLite): one rule here instead of one in every parameter.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _nul_location(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        location, name = found
        reason = "must not contain NUL characters"
        body = error_body(
            code="validation_error",
            message=f"Invalid input: {name}",
            details=[
                {"field": name, "reason": reason, "type": "value_error", "location": location}
            ],
        )
        await JSONResponse(body, status_code=422)(scope, receive, send)
