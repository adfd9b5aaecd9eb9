"""One transaction per unit of work: after-commit callbacks run only when the commit happened."""

from __future__ import annotations

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
