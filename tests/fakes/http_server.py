"""A scripted HTTP server on 127.0.0.1 for tests that talk to real sockets (no network).

Use::

    with FakeHttpServer() as server:            # uvicorn in a thread, on a free port
        server.add("/query", Reply.from_fixture(path), query={"function": "GLOBAL_QUOTE"})
        server.add("/stable/quote", Reply(status=500), Reply(body=[...]))  # 500, then 200 forever
        server.add("/slow", Reply(body={}, delay=2.0))                     # for client timeouts
        ... point a client at server.url ...
        server.requests("/query")                # what was asked, in order

Matching: a request matches a route when the method and path are equal and every ``query`` pair
of the route is in the request's query string (extra parameters are ignored). The most specific
route (most query pairs) wins; among equals, the one added last. A route plays its replies in
order and repeats the last one. An unmatched request gets 404 ``{"error": "no scripted reply"}``.
``reset()`` forgets routes and requests, so one server can serve a whole test session.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# Headers that describe the recorded transfer, not the reply we build.
_TRANSFER_HEADERS = frozenset({"content-length", "transfer-encoding", "content-encoding"})


@dataclass(frozen=True)
class Reply:
    """One scripted answer. A dict/list body is sent as JSON, str as text/plain, bytes as is."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering

    @classmethod
    def from_fixture(cls, path: str | Path, **overrides: Any) -> Reply:
        """A recorded exchange (``{"status", "headers", "body", ...}``) replayed as recorded."""
        recorded = json.loads(Path(path).read_text(encoding="utf-8"))
        headers = {
            name: value
            for name, value in (recorded.get("headers") or {}).items()
            if name.lower() not in _TRANSFER_HEADERS
        }
        values: dict[str, Any] = {
            "status": recorded["status"],
            "body": recorded["body"],
            "headers": headers,
        }
        values.update(overrides)
        return cls(**values)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = {name.lower(): value for name, value in self.headers.items()}
        if isinstance(self.body, bytes):
            content = self.body
            headers.setdefault("content-type", "application/octet-stream")
        elif isinstance(self.body, str):
            content = self.body.encode()
            headers.setdefault("content-type", "text/plain; charset=utf-8")
        elif self.body is None:
            content = b""
        else:
            content = json.dumps(self.body).encode()
            headers.setdefault("content-type", "application/json")
        return content, headers


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    at: float = field(default_factory=time.time)  # when it arrived (epoch seconds)


@dataclass
class _Route:
    method: str
    path: str
    query: dict[str, str]
    replies: list[Reply]
    served: int = 0

    def matches(self, method: str, path: str, query: Mapping[str, str]) -> bool:
        return (
            self.method == method
            and self.path == path
            and all(query.get(key) == value for key, value in self.query.items())
        )

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


class FakeHttpServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: list[_Route] = []
        self._seen: list[SeenRequest] = []
        self._stopping = threading.Event()
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53211`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def add(
        self,
        path: str,
        *replies: Reply,
        query: Mapping[str, str] | None = None,
        method: str = "GET",
    ) -> None:
        """Script ``replies`` for ``method path`` (+ ``query`` pairs); replaces an equal route."""
        if not replies:
            raise ValueError("a route needs at least one reply")
        route = _Route(method.upper(), path, dict(query or {}), list(replies))
        with self._lock:
            self._routes = [
                known
                for known in self._routes
                if (known.method, known.path, known.query) != (route.method, path, route.query)
            ]
            self._routes.append(route)

    def requests(self, path: str | None = None) -> list[SeenRequest]:
        """Requests received so far (all, or those for ``path``), oldest first."""
        with self._lock:
            return [seen for seen in self._seen if path is None or seen.path == path]

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._seen.clear()

    def _pick(self, method: str, path: str, query: Mapping[str, str]) -> Reply | None:
        with self._lock:
            matching = [
                (len(route.query), index, route)
                for index, route in enumerate(self._routes)
                if route.matches(method, path, query)
            ]
            if not matching:
                return None
            return max(matching, key=lambda item: item[:2])[2].next_reply()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        query = dict(request.query_params)
        seen = SeenRequest(
            request.method,
            request.url.path,
            query,
            {k.lower(): v for k, v in request.headers.items()},
        )
        with self._lock:
            self._seen.append(seen)
        reply = self._pick(request.method, request.url.path, query)
        if reply is None:
            reply = Reply(status=404, body={"error": "no scripted reply", "path": seen.path})
        deadline = time.monotonic() + reply.delay
        # Polled, not awaited: stop() sets this event from the test's thread.
        while time.monotonic() < deadline and not self._stopping.is_set():  # noqa: ASYNC110
            await asyncio.sleep(max(0.0, min(0.02, deadline - time.monotonic())))
        content, headers = reply.encode()
        await Response(content, status_code=reply.status, headers=headers)(scope, receive, send)

    def start(self) -> FakeHttpServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-http"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> FakeHttpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
