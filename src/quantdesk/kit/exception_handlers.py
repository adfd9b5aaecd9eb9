"""The one place errors become responses: the envelope, the right status, never a stack trace."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from quantdesk.kit.envelope import error_body
from quantdesk.kit.errors import QuantdeskError
from quantdesk.kit.logging import (
    bind_request_id,
    current_request_id,
    get_logger,
    reset_request_id,
)
from quantdesk.kit.middleware import REQUEST_ID_SCOPE_KEY

_log = get_logger("quantdesk.errors")

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        detail: dict[str, Any] = {
            "field": _field_of(err.get("loc", ())),
            "reason": err.get("msg", "invalid"),
            "type": err.get("type", "value_error"),
        }
        loc = err.get("loc", ())
        if loc:
            detail["location"] = str(loc[0])
        details.append(detail)
    return details


async def _quantdesk_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuantdeskError)
    return JSONResponse(
        error_body(
            code=exc.code, message=exc.message, details=exc.details, next_actions=exc.next_actions
        ),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def _json_syntax_error(exc: RequestValidationError) -> str | None:
    """ "<reason> at line L column C" when the body is not JSON at all; None for other errors."""
    errors = exc.errors()
    if len(errors) != 1 or errors[0].get("type") != "json_invalid":
        return None
    loc = tuple(errors[0].get("loc", ()))
    document = exc.body
    # FastAPI puts the decoder's character offset in the location and the decoded text in body.
    if len(loc) != 2 or not isinstance(loc[1], int) or not isinstance(document, str):
        return None
    position = min(max(loc[1], 0), len(document))
    line = document.count("\n", 0, position) + 1
    column = position - document.rfind("\n", 0, position)
    reason = str((errors[0].get("ctx") or {}).get("error") or "invalid JSON")
    return f"{reason} at line {line} column {column}"


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    syntax_error = _json_syntax_error(exc)
    if syntax_error is not None:
        detail = {"field": "body", "reason": syntax_error, "type": "json_invalid"}
        return JSONResponse(
            error_body(
                code="validation_error",
                message=f"Request body is not valid JSON: {syntax_error}",
                details=[{**detail, "location": "body"}],
            ),
            status_code=422,
        )
    details = _validation_details(exc)
    fields = ", ".join(dict.fromkeys(d["field"] for d in details))
    return JSONResponse(
        error_body(code="validation_error", message=f"Invalid input: {fields}", details=details),
        status_code=422,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    return JSONResponse(
        error_body(code=code, message=message),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Runs outside the request-context middleware: bind its request id again, so the log line,
    # the body and the header still lead from the client's report to the traceback.
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY) or current_request_id()
    token = bind_request_id(request_id)
    try:
        _log.exception("unhandled_error", error_type=type(exc).__name__)
        body = error_body(code="internal_error", message="Something went wrong on our side")
    finally:
        reset_request_id(token)
    headers = {"X-Request-ID": request_id} if request_id else None
    return JSONResponse(body, status_code=500, headers=headers)


# SQLite's single writer: a write that waited out ``busy_timeout`` (a burst of writes on the
# embedded default) is the server being busy, not a bug: 503 with Retry-After, nothing written.
_BUSY_MARKERS = ("database is locked", "database table is locked")
BUSY_RETRY_AFTER_SECONDS = 1


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError)
    if not any(marker in str(exc.orig) for marker in _BUSY_MARKERS):
        return await _unexpected_error(request, exc)
    _log.warning("database_busy", error=str(exc.orig))
    return JSONResponse(
        error_body(
            code="database_busy",
            message="The database is busy with other writes; nothing was written, try again",
        ),
        status_code=503,
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(QuantdeskError, _quantdesk_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
