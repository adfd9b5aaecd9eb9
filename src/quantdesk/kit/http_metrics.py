"""ASGI middleware: count and time every HTTP request by route template, and feed the activity
monitor.

The label is the template of the route that matched (``/api/v1/universes/{universe_id}``), read
from the scope after routing; a path no route matched is ``unmatched``, so neither ids nor
scanners' made-up paths ever become label values.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quantdesk.kit import activity, metrics

# Scrapes, health checks and status polls are machines watching the service, not use of it.
_PROBE_ROUTES = frozenset({"/metrics", "/api/v1/status"})
_PROBE_PREFIX = "/health"
# The client went away before any response was sent (nginx's name for it).
CLIENT_CLOSED_REQUEST = 499


def route_template(scope: Scope) -> str | None:
    """The matched route's full path template, or None when no route matched."""
    route = scope.get("route")
    if route is None:
        return None
    # FastAPI keeps an included router's routes relative to it (``/universes/{universe_id}``);
    # the context it matched through carries the full template, prefix included.
    fastapi_scope = scope.get("fastapi")
    effective = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    for candidate in (effective, route):
        template = getattr(candidate, "path_format", None)
        if isinstance(template, str) and template:
            return template
    return "/"


def is_probe(template: str) -> bool:
    return template in _PROBE_ROUTES or template.startswith(_PROBE_PREFIX)


class MetricsMiddleware:
    """Outermost, so the time and status include every other middleware (413s, 422s, 500s)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = CLIENT_CLOSED_REQUEST

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        except Exception:
            status = 500  # Starlette's outermost handler turns it into a 500 after us
            raise
        finally:
            template = route_template(scope)
            metrics.record_request(
                template, scope.get("method", ""), status, time.perf_counter() - started
            )
            if template is not None and not is_probe(template):
                activity.record("request")
