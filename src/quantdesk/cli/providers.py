"""`quantdesk providers status`: the market-data providers' breakers and rate limits.

By default it asks the running server (``GET /health/providers`` at QUANTDESK_API_URL, no token
needed), because breakers live in the server's process. ``--local`` shows this configuration as
a fresh process would start it (breakers closed; bucket levels are shared only through Redis).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantdesk.cli.common import load_settings
from quantdesk.kit.config import Settings
from quantdesk.market import service as market_service
from quantdesk.market.runtime import MarketRuntime

app = typer.Typer(help="Market-data providers: health of the chain.", no_args_is_help=True)

_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


async def _local(settings: Settings) -> dict[str, Any]:
    runtime = MarketRuntime(settings)
    try:
        return (await market_service.providers_health(runtime)).model_dump(mode="json")
    finally:
        await runtime.aclose()


def _remote(api_url: str) -> dict[str, Any]:
    url = f"{api_url.rstrip('/')}/health/providers"
    try:
        response = httpx.get(url, timeout=_TIMEOUT)
    except httpx.HTTPError as exc:
        Console(stderr=True).print(
            f"[red]Error:[/red] cannot reach {escape(url)} ({escape(type(exc).__name__)}); "
            "is the server running? Use --local for this configuration without it.",
            soft_wrap=True,
        )
        raise typer.Exit(1) from exc
    if response.status_code != 200:
        Console(stderr=True).print(f"[red]Error:[/red] {url} answered {response.status_code}")
        raise typer.Exit(1)
    data: dict[str, Any] = response.json()["data"]
    return data


def _bucket(limiter: dict[str, Any] | None) -> str:
    if not limiter:
        return "unlimited"
    return (
        f"{limiter.get('tokens', '?')}/{limiter.get('capacity', '?')} tokens, "
        f"{limiter.get('requests_per_minute', '?')}/min ({limiter.get('backend', '?')})"
    )


def _breaker(breaker: dict[str, Any]) -> str:
    state = str(breaker.get("state", "?"))
    colour = {"closed": "green", "open": "red", "half_open": "yellow"}.get(state, "white")
    text = f"[{colour}]{state}[/{colour}]"
    if state != "closed" and breaker.get("retry_after"):
        text += f" (retry in {breaker['retry_after']} s)"
    return text


def _table(health: dict[str, Any]) -> Table:
    table = Table(title="Market-data providers (in chain order)")
    for column in ("Provider", "Breaker", "Failures", "Rate limit", "Capabilities", "Data"):
        table.add_column(column)
    for p in health.get("providers", []):
        table.add_row(
            escape(str(p["name"])),
            _breaker(p["breaker"]),
            str(p["breaker"].get("failures", 0)),
            escape(_bucket(p.get("rate_limiter"))),
            escape(", ".join(p.get("capabilities", []))),
            "[yellow]simulated[/yellow]" if p.get("simulated") else "live",
        )
    return table


@app.command("status")
def status(
    local: Annotated[
        bool, typer.Option("--local", help="This configuration in a fresh process, no server")
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url", help="Server URL [default: QUANTDESK_API_URL]", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON")] = False,
) -> None:
    """Each provider's circuit breaker, rate-limit bucket and capabilities, and the cache."""
    settings = load_settings()
    health = asyncio.run(_local(settings)) if local else _remote(api_url or settings.api_url)
    out = Console()
    if as_json:
        out.print_json(json.dumps(health))
        return
    out.print(_table(health))
    redis = health.get("cache", {}).get("redis", {})
    if redis.get("enabled"):
        out.print(f"cache: Redis {'up' if redis.get('available') else 'DOWN (local only)'}")
    else:
        out.print("cache: in process (no Redis configured)")
