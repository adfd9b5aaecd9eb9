"""`quantdesk serve` hands uvicorn the proxies to trust: the setting, or the flag over it.

The behaviour behind it (separate per-IP limits behind a trusted proxy, the header ignored from
an untrusted one) is tested end to end by ``tests/topology``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from quantdesk.cli import main
from quantdesk.kit.config import get_settings


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """What `serve` passes to ``uvicorn.run``, with nothing started or checked."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    monkeypatch.setattr(main, "check_database", lambda settings: None)
    monkeypatch.setattr(main, "configure_cli_logging", lambda **_: None)
    for name in ("QUANTDESK_FORWARDED_ALLOW_IPS", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


def _serve(*args: str) -> None:
    result = CliRunner().invoke(main.app, ["serve", *args])
    assert result.exit_code == 0, result.output


def test_by_default_only_a_proxy_on_this_machine_is_trusted(
    uvicorn_calls: list[dict[str, Any]],
) -> None:
    _serve()

    assert uvicorn_calls[0]["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert uvicorn_calls[0]["proxy_headers"] is True


def test_the_setting_names_the_load_balancer_and_the_flag_wins(
    uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTDESK_FORWARDED_ALLOW_IPS", "10.0.0.10,10.1.0.0/16")

    _serve()
    _serve("--forwarded-allow-ips", "192.0.2.1")

    assert [call["forwarded_allow_ips"] for call in uvicorn_calls] == [
        "10.0.0.10,10.1.0.0/16",
        "192.0.2.1",
    ]


def test_an_empty_list_trusts_no_proxy(uvicorn_calls: list[dict[str, Any]]) -> None:
    _serve("--forwarded-allow-ips", "")

    assert uvicorn_calls[0]["proxy_headers"] is False
