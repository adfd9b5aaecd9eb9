"""Recorded provider answers (tests/fixtures/providers, copied from the shared recordings)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from tests.fakes.http_server import Reply

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"


def recorded(name: str, **overrides: Any) -> Reply:
    """The recorded exchange ``name`` (e.g. "fmp/quote_stable_AAPL.json") as a scripted reply."""
    return Reply.from_fixture(FIXTURES / name, **overrides)


def recorded_body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))["body"]


def closed_port_url() -> str:
    """A local URL nothing listens on (the port was free a moment ago): connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
