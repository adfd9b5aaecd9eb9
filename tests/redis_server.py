"""A private redis-server on a free port, which a test may stop and start again mid-way.

Never touches the machine's shared Redis (6379). Under ``CI=true`` a missing redis-server fails
the test; elsewhere it is skipped.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from quantdesk.kit.logging import configure_logging

IN_CI = os.environ.get("CI", "").lower() == "true"
START_TIMEOUT_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answers_ping(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("redis-server is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--protected-mode", "no",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not answers_ping(self.port):
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Terminate the server and wait until its port refuses connections."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def running_redis_server(workdir: Path) -> Iterator[RedisServer]:
    """Start a private server for the duration of the block (skip, or fail in CI, without one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (it is on PATH in CI)"
        if IN_CI:
            pytest.fail(f"{message} and CI=true")
        pytest.skip(message)
    server = RedisServer(binary, workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def logs_through_stdlib() -> Iterator[None]:
    """Route structlog through the standard library (as the app does), where caplog sees it.

    Enter it in a fixture, before the test body: configuring replaces the root handlers, which
    would drop the handler caplog adds for the test itself. Root handlers are restored on exit.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("WARNING")
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
