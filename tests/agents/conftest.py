"""Fixtures of the agent tests: personal API tokens of each tier, and the JSON log."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from quantdesk.kit.db import Database
from tests.factories import Account, create_api_token


@dataclass(frozen=True)
class Token:
    id: str
    secret: str


async def _token(db: Database, account: Account, scopes: str) -> Token:
    row, secret = await create_api_token(db, account.user, name=f"agent {scopes}", scopes=scopes)
    return Token(id=str(row.id), secret=secret)


@pytest.fixture
async def alice_writer(db: Database, alice: Account) -> Token:
    return await _token(db, alice, "read write")


@pytest.fixture
async def alice_reader(db: Database, alice: Account) -> Token:
    return await _token(db, alice, "read")


@pytest.fixture
async def bob_writer(db: Database, bob: Account) -> Token:
    return await _token(db, bob, "read write")
