"""`quantdesk providers status`: the market-data providers' breakers and rate limits.

By default it asks the running server (``GET /health/providers`` at QUANTDESK_API_URL, no token
needed), because breakers live in the server's process. ``--local`` shows this configuration as
a fresh process would start it (breakers closed; the quota ledger is the database's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from quantdesk.cli.common import fail, load_settings, out, run
from quantdesk.cli.output import Column, Output, OutputFormat, emit_csv, emit_json, print_table

if TYPE_CHECKING:
    from quantdesk.kit.config import Settings

app = typer.Typer(help="Market-data providers: health of the chain.", no_args_is_help=True)


async def _local(settings: Settings) -> dict[str, Any]:
    from quantdesk.market import service as market_service
    from quantdesk.market.runtime import MarketRuntime

    runtime = MarketRuntime(settings)
    try:
        return (await market_service.providers_health(runtime)).model_dump(mode="json")
    finally:
        await runtime.aclose()


def _remote(api_url: str) -> dict[str, Any]:
    import httpx

    url = f"{api_url.rstrip('/')}/health/providers"
    try:
        response = httpx.get(url, timeout=httpx.Timeout(10.0, connect=5.0))
    except httpx.HTTPError as exc:
        fail(
            f"cannot reach {url} ({type(exc).__name__}); is the server running? "
            "Use --local for this configuration without it."
        )
    if response.status_code != 200:
        fail(f"{url} answered {response.status_code}")
    data: dict[str, Any] = response.json()["data"]
    return data


def _bucket(limiter: dict[str, Any] | None) -> str:
    """The quota ledger's windows, e.g. "3/5 per min, 7/25 per day, spent until 12:00"."""
    if not limiter:
        return "unlimited"
    parts = []
    for window, label in (("minute", "min"), ("day", "day")):
        found = limiter.get(window) or {}
        if found.get("limit") is not None:
            parts.append(f"{found.get('used', '?')}/{found['limit']} per {label}")
    if limiter.get("spent_until"):
        parts.append(f"spent until {limiter['spent_until']}")
    return ", ".join(parts) or "unlimited"


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


_CSV_COLUMNS = tuple(
    Column(key, key)
    for key in ("provider", "breaker", "failures", "rate_limit", "capabilities", "simulated")
)


def _csv_row(provider: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": provider["name"],
        "breaker": provider["breaker"].get("state"),
        "failures": provider["breaker"].get("failures", 0),
        "rate_limit": _bucket(provider.get("rate_limiter")),
        "capabilities": " ".join(provider.get("capabilities", [])),
        "simulated": bool(provider.get("simulated")),
    }


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
    output: Output = OutputFormat.TABLE,
    as_json: Annotated[bool, typer.Option("--json", hidden=True)] = False,
) -> None:
    """Each provider's circuit breaker, rate-limit bucket and capabilities, and the cache."""
    settings = load_settings()
    health = run(_local(settings)) if local else _remote(api_url or settings.api_url)
    if as_json or output is OutputFormat.JSON:  # --json: the option this command had first
        emit_json(health)
        return
    if output is OutputFormat.CSV:
        emit_csv(_CSV_COLUMNS, [_csv_row(p) for p in health.get("providers", [])])
        return
    print_table(_table(health))
    redis = health.get("cache", {}).get("redis", {})
    if redis.get("enabled"):
        out().print(f"cache: Redis {'up' if redis.get('available') else 'DOWN (local only)'}")
    else:
        out().print("cache: in process (no Redis configured)")
