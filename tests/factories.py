"""Small typed factories: rows for tests, written through the same session machinery as the app."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from quantdesk.assets.symbols import lookup_key
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.security import hash_password, issue_jwt, new_api_token
from quantdesk.models import ApiToken, Asset, IndexMember, MarketIndex, User
from quantdesk.models.asset import AssetClass

DEFAULT_PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)

# A few real assets: enough for universe tests without loading the whole catalog.
SAMPLE_ASSETS: list[tuple[str, str, str, str | None]] = [
    ("AAPL", "Apple Inc.", AssetClass.EQUITY, "Technology"),
    ("MSFT", "Microsoft Corporation", AssetClass.EQUITY, "Technology"),
    ("NVDA", "NVIDIA Corporation", AssetClass.EQUITY, "Technology"),
    ("GOOGL", "Alphabet Inc.", AssetClass.EQUITY, "Communication Services"),
    ("AMZN", "Amazon.com, Inc.", AssetClass.EQUITY, "Consumer Discretionary"),
    ("BRK-B", "Berkshire Hathaway Inc.", AssetClass.EQUITY, "Financials"),
    ("JPM", "JPMorgan Chase & Co.", AssetClass.EQUITY, "Financials"),
    ("SPY", "SPDR S&P 500 ETF Trust", AssetClass.ETF, None),
    ("VOD.L", "Vodafone Group Plc", AssetClass.EQUITY, "Communication Services"),
    ("BTC", "Bitcoin", AssetClass.CRYPTO, None),
]


@dataclass
class Account:
    user: User
    password: str
    headers: dict[str, str]


async def create_user(
    db: Database, settings: Settings, *, email: str | None = None, password: str = DEFAULT_PASSWORD
) -> Account:
    email = email or f"user{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"
    async with db.transaction() as session:
        user = User(email=email, password_hash=hash_password(password), display_name=None)
        session.add(user)
        await session.flush()
    access = issue_jwt(settings, user.id, "access")
    return Account(
        user=user, password=password, headers={"Authorization": f"Bearer {access.token}"}
    )


async def create_api_token(
    db: Database, user: User, *, name: str = "test", scopes: str = "read write"
) -> tuple[ApiToken, str]:
    issued = new_api_token()
    async with db.transaction(user_id=user.id) as session:
        token = ApiToken(
            owner_id=user.id,
            name=name,
            token_prefix=issued.prefix,
            token_hash=issued.digest,
            scopes=scopes,
        )
        session.add(token)
        await session.flush()
    return token, issued.secret


async def ensure_assets(
    db: Database, assets: list[tuple[str, str, str, str | None]] | None = None
) -> dict[str, Asset]:
    """Get or create assets by symbol; returns them by symbol."""
    wanted = assets or SAMPLE_ASSETS
    async with db.transaction() as session:
        symbols = [a[0] for a in wanted]
        found = {
            a.symbol: a
            for a in (await session.execute(select(Asset).where(Asset.symbol.in_(symbols))))
            .scalars()
            .all()
        }
        for symbol, name, asset_class, sector in wanted:
            if symbol not in found:
                asset = Asset(
                    symbol=symbol,
                    lookup_key=lookup_key(symbol),
                    name=name,
                    asset_class=str(asset_class),
                    sector=sector,
                    validation_source="catalog",
                    metadata_={},
                )
                session.add(asset)
                found[symbol] = asset
        await session.flush()
    return found


def auth_header_for(settings: Settings, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_jwt(settings, user.id, 'access').token}"}


async def ensure_index(db: Database, name: str, symbols: list[str]) -> MarketIndex:
    """Create (or refill) an index whose members are the given, already existing, symbols."""
    async with db.transaction() as session:
        index = (
            await session.execute(select(MarketIndex).where(MarketIndex.name == name))
        ).scalar_one_or_none()
        if index is None:
            index = MarketIndex(name=name)
            session.add(index)
            await session.flush()
        assets = (await session.execute(select(Asset).where(Asset.symbol.in_(symbols)))).scalars()
        existing = set(
            (
                await session.execute(
                    select(IndexMember.asset_id).where(IndexMember.index_id == index.id)
                )
            ).scalars()
        )
        for asset in assets:
            if asset.id not in existing:
                session.add(IndexMember(index_id=index.id, asset_id=asset.id))
        await session.flush()
    return index
