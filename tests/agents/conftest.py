"""Fixtures of the agent tests: personal API tokens of each tier, and the JSON log."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import structlog

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


@pytest.fixture
def json_log_output(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything logged while the test runs, rendered by the app's own JSON formatter."""
    root = logging.getLogger()
    formatter = next(
        h.formatter
        for h in root.handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    caplog.set_level(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
