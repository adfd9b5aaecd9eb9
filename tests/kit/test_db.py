"""One transaction per unit of work: after-commit callbacks run only when the commit happened."""

from __future__ import annotations

import asyncio

import pytest

from quantdesk.kit.db import Database, after_commit
from quantdesk.models import Universe
from tests.factories import Account


async def test_after_commit_runs_after_a_commit_and_never_after_a_rollback(
    db: Database, alice: Account
) -> None:
    sent: list[str] = []

    async def send_committed() -> None:
        sent.append("committed")

    async def send_rolled_back() -> None:
        sent.append("rolled back")

    async with db.transaction(user_id=alice.user.id) as session:
        session.add(Universe(owner_id=alice.user.id, name="kept"))
        after_commit(session, send_committed)
        assert sent == []  # not before the commit
    assert sent == ["committed"]

    async def failing_unit_of_work() -> None:
        async with db.transaction(user_id=alice.user.id) as session:
            session.add(Universe(owner_id=alice.user.id, name="dropped"))
            after_commit(session, send_rolled_back)
            await session.flush()
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_unit_of_work()
    assert sent == ["committed"]


async def test_a_failing_callback_does_not_undo_the_commit(db: Database, alice: Account) -> None:
    async def broken() -> None:
        raise ConnectionError("broker down")

    async with db.transaction(user_id=alice.user.id) as session:
        universe = Universe(owner_id=alice.user.id, name="survives")
        session.add(universe)
        after_commit(session, broken)
    async with db.transaction(user_id=alice.user.id) as session:
        assert await session.get(Universe, universe.id) is not None


async def _description(db: Database, universe_id: object, **transaction: object) -> str | None:
    async with db.transaction(**transaction) as session:  # type: ignore[arg-type]
        found = await session.get(Universe, universe_id, populate_existing=True)
        return found.description if found else None


async def test_sqlite_a_transaction_sees_one_snapshot_from_its_begin(
    db: Database, alice: Account
) -> None:
    """SQLite's driver used to open a transaction only at the first write, so the reads before it
    each saw the latest commit. Now BEGIN is sent at the start: a transaction's reads agree."""
    if db.kind != "sqlite":
        pytest.skip("PostgreSQL's transactions always began at BEGIN")
    async with db.transaction(user_id=alice.user.id) as session:
        universe = Universe(owner_id=alice.user.id, name="snapshot", description="before")
        session.add(universe)
    async with db.transaction(user_id=alice.user.id, readonly=True) as reader:
        first = await reader.get(Universe, universe.id)
        assert first is not None
        assert first.description == "before"
        # Another connection commits a change while this transaction is open.
        async with db.transaction(user_id=alice.user.id) as writer:
            changed = await writer.get(Universe, universe.id)
            assert changed is not None
            changed.description = "after"
        again = await reader.get(Universe, universe.id, populate_existing=True)
        assert again is not None
        assert again.description == "before"  # the snapshot taken at its first read
    assert await _description(db, universe.id) == "after"


async def test_concurrent_read_then_write_transactions_lose_no_update(
    db: Database, alice: Account
) -> None:
    """Two transactions each read a counter, wait, and write it back plus one. A write
    transaction takes SQLite's write lock at BEGIN (IMMEDIATE), so the second reads what the first
    wrote: 2, not a lost update's 1. (PostgreSQL: the row lock of SELECT … FOR UPDATE does it.)"""
    async with db.transaction(user_id=alice.user.id) as session:
        universe = Universe(owner_id=alice.user.id, name="counter", description="0")
        session.add(universe)

    async def increment() -> None:
        async with db.transaction(user_id=alice.user.id) as session:
            row = await session.get(
                Universe, universe.id, with_for_update=True, populate_existing=True
            )
            assert row is not None
            value = int(row.description or "0")
            await asyncio.sleep(0.05)  # the other transaction gets its chance to interleave
            row.description = str(value + 1)

    await asyncio.gather(increment(), increment())
    assert await _description(db, universe.id, user_id=alice.user.id) == "2"
