"""An open-loop HTTP load generator light enough to share a 2-core machine with the server.

httpx costs about a millisecond of client CPU per request and its connection pool slows down as
requests queue, so at a few hundred requests per second the generator, not the server, set the
latency. This one keeps plain keep-alive HTTP/1.1 connections (asyncio streams), writes each
request as prepared bytes and reads only the status line, Content-Length and the body: tens of
microseconds per request, like wrk. Written by hand because no small, kept Python library does an
open loop (locust and friends are closed-loop user simulators with their own runtime).

Open loop: request i is due at ``start + i / rate`` whatever happened to the ones before, and its
latency counts from when it was due, so a server that falls behind shows it (no coordinated
omission).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None

    def encode(self, host: str, headers: dict[str, str]) -> bytes:
        payload = b"" if self.body is None else json.dumps(self.body).encode()
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if self.body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(payload)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    dropped: int = 0  # connections the server closed or refused mid-request

    @property
    def failed(self) -> int:
        return self.dropped + sum(1 for status in self.statuses if status >= 300)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


class OpenLoop:
    """``connections`` keep-alive connections to ``host:port``; requests wait for a free one."""

    def __init__(self, host: str, port: int, headers: dict[str, str], connections: int = 64):
        self.host, self.port, self.headers, self.size = host, port, headers, connections
        self._idle: asyncio.Queue[_Connection] = asyncio.Queue()

    async def __aenter__(self) -> OpenLoop:
        for _ in range(self.size):
            self._idle.put_nowait(_Connection(*await asyncio.open_connection(self.host, self.port)))
        return self

    async def __aexit__(self, *_: object) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().writer.close()

    async def _send(self, raw: bytes) -> int | None:
        connection = await self._idle.get()
        try:
            status = await connection.exchange(raw)
        except (OSError, asyncio.IncompleteReadError):
            connection.writer.close()
            self._idle.put_nowait(_Connection(*await asyncio.open_connection(self.host, self.port)))
            return None
        self._idle.put_nowait(connection)
        return status

    async def run(self, request_for: Callable[[int], Request], count: int, rate: float) -> Outcome:
        """``count`` requests at ``rate`` per second, ``request_for(i)`` the i-th."""
        prepared = [request_for(i).encode(self.host, self.headers) for i in range(count)]
        outcome = Outcome()
        start = time.perf_counter() + 0.1

        async def one(i: int) -> None:
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            status = await self._send(prepared[i])
            outcome.latencies.append(time.perf_counter() - due)
            if status is None:
                outcome.dropped += 1
            else:
                outcome.statuses.append(status)

        await asyncio.gather(*(one(i) for i in range(count)))
        return outcome
