"""Demo data for a first look, created once (idempotent): a login with two universes, a paper
account with starting cash, and a research vault of a few sample files (queued for a scan, which
the server's executor runs when it starts)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import anyio

from quantdesk.assets import service as asset_service
from quantdesk.auth import service as auth_service
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database, set_tenant
from quantdesk.kit.errors import QuantdeskError
from quantdesk.trading import service as trading_service
from quantdesk.trading.schemas import AccountCreate
from quantdesk.universes import service as universe_service
from quantdesk.universes.schemas import UniverseCreate
from quantdesk.vault import service as vault_service
from quantdesk.vault.schemas import VaultCreate

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


DEMO_ACCOUNT = "Demo paper"
DEMO_STARTING_CASH = Decimal(100_000)
DEMO_VAULT = "Demo research"
DEMO_VAULT_FOLDER = "demo-research"  # inside the first of QUANTDESK_VAULT_ALLOWED_ROOTS
# A few research files as people keep them: a filing, notes, a data file, and a copy.
DEMO_FILES: dict[str, str] = {
    "inbox/AAPL_10-K_2025_summary.txt": "Apple Inc. annual report, 2025: the points to follow.\n",
    "inbox/MSFT notes.md": "# MSFT\n\nCloud growth, margins, buybacks: to check next quarter.\n",
    "inbox/prices.csv": "symbol,date,close\nAAPL,2025-12-31,250.00\nMSFT,2025-12-31,480.00\n",
    "inbox/prices copy.csv": "symbol,date,close\nAAPL,2025-12-31,250.00\nMSFT,2025-12-31,480.00\n",
}


@dataclass
class DemoReport:
    email: str
    password: str
    user_created: bool
    universes_created: list[str] = field(default_factory=list)
    missing_symbols: list[str] = field(default_factory=list)
    account_created: bool = False
    vault_created: bool = False
    vault_skipped: str | None = None  # why the demo vault could not be made


async def seed_demo(db: Database, settings: Settings | None = None) -> DemoReport:
    """Create the demo login, universes and paper account that do not exist yet (symbols the
    catalog lacks are left out and reported rather than failing the seed) and, with
    ``settings``, the demo vault."""
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
        accounts = await trading_service.list_accounts(session, owner_id=user.id, limit=1)
        if not accounts.items:
            await trading_service.create_account(
                session,
                owner_id=user.id,
                data=AccountCreate(name=DEMO_ACCOUNT, starting_cash=DEMO_STARTING_CASH),
            )
            report.account_created = True
        vaults = await vault_service.list_vaults(session, owner_id=user.id, limit=100, cursor=None)
        has_vault = any(v.name == DEMO_VAULT for v in vaults.items)
    if settings is not None and not has_vault:
        try:
            await _demo_vault(db, settings, user.id)
            report.vault_created = True
        except (OSError, QuantdeskError) as exc:  # the admin's vault roots may not allow it
            report.vault_skipped = str(exc)
    return report


async def _demo_vault(db: Database, settings: Settings, owner_id: uuid.UUID) -> None:
    """The sample files (those missing) in the demo folder, registered as a vault and queued
    for a scan."""
    root = Path(settings.resolved_vault_allowed_roots[0]) / DEMO_VAULT_FOLDER
    for relative, text in DEMO_FILES.items():
        path = anyio.Path(root / relative)
        if not await path.exists():
            await path.parent.mkdir(parents=True, exist_ok=True)
            await path.write_text(text)
    vault = await vault_service.create_vault(
        db, settings, owner_id=owner_id, data=VaultCreate(name=DEMO_VAULT, kind="local",
        root=str(root)),
    )  # fmt: skip
    async with db.transaction(user_id=owner_id) as session:
        await vault_service.request_scan(session, owner_id=owner_id, vault_id=vault.id)
