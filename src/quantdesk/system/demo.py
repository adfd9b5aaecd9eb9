"""Demo data for a first look: one account and two universes, created once (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass, field

from quantdesk.assets import service as asset_service
from quantdesk.auth import service as auth_service
from quantdesk.kit.db import Database, set_tenant
from quantdesk.universes import service as universe_service
from quantdesk.universes.schemas import UniverseCreate

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - a published demo login, printed by `make run`

DEMO_UNIVERSES: list[tuple[str, str, list[str]]] = [
    (
        "Megacap Tech",
        "The largest US technology and platform companies.",
        ["AAPL", "MSFT", "NVDA", "GOOGL", "AMZN", "META", "TSLA", "AVGO"],
    ),
    (
        "Dividend ETFs",
        "US-listed ETFs that track dividend-paying stocks.",
        ["VYM", "SCHD", "DVY", "HDV", "VIG", "SPYD", "NOBL", "DGRO"],
    ),
]


@dataclass
class DemoReport:
    email: str
    password: str
    user_created: bool
    universes_created: list[str] = field(default_factory=list)
    missing_symbols: list[str] = field(default_factory=list)


async def seed_demo(db: Database) -> DemoReport:
    """Create the demo account and universes that do not exist yet; symbols the catalog lacks
    are left out (and reported) rather than failing the seed."""
    async with db.transaction() as session:
        user = await auth_service.find_user_by_email(session, email=DEMO_EMAIL)
        created = user is None
        if user is None:
            user = await auth_service.signup(
                session, email=DEMO_EMAIL, password=DEMO_PASSWORD, display_name="Demo"
            )
        report = DemoReport(email=DEMO_EMAIL, password=DEMO_PASSWORD, user_created=created)
        await set_tenant(session, user.id)
        for name, description, symbols in DEMO_UNIVERSES:
            if await universe_service.universe_name_exists(session, owner_id=user.id, name=name):
                continue
            resolved = await asset_service.resolve_symbols(session, symbols)
            known = [s for s, asset in resolved.items() if asset is not None]
            report.missing_symbols += [s for s, asset in resolved.items() if asset is None]
            await universe_service.new_universe(
                session,
                owner_id=user.id,
                data=UniverseCreate(name=name, description=description, symbols=known),
            )
            report.universes_created.append(name)
    return report
