"""Loops that run once across processes: one turn per interval, whoever asks first; concurrent
claimants never both win; a rolled-back turn is not spent (both engines)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.singleton import ExclusiveLoop, take_turn
from quantdesk.kit.orm import utcnow


def _name() -> str:
    return f"test-loop-{uuid.uuid4().hex[:8]}"


async def test_concurrent_claimants_never_both_take_a_turn(resources: JobResources) -> None:
    name = _name()

    async def claim(holder: str) -> bool:
        async with resources.db.transaction(system=True) as session:
            won = await take_turn(
                session, name=name, holder=holder, every=timedelta(minutes=1), now=utcnow()
            )
            await asyncio.sleep(0.05)  # hold the turn's transaction open a little
            return won

    outcomes = await asyncio.gather(*(claim(f"p{n}") for n in range(8)))
    assert sorted(outcomes) == [False] * 7 + [True]
    assert not await claim("late")  # the next turn is a minute away


async def test_a_rolled_back_turn_is_not_spent(resources: JobResources) -> None:
    name = _name()

    async def failing_turn() -> None:
        async with resources.db.transaction(system=True) as session:
            assert await take_turn(
                session, name=name, holder="a", every=timedelta(minutes=1), now=utcnow()
            )
            raise RuntimeError("the turn's work failed")

    with pytest.raises(RuntimeError):
        await failing_turn()
    async with resources.db.transaction(system=True) as session:
        assert await take_turn(
            session, name=name, holder="b", every=timedelta(minutes=1), now=utcnow()
        )


async def test_two_processes_share_one_turn_per_interval(resources: JobResources) -> None:
    name = _name()
    ran: list[str] = []

    class Sweep(ExclusiveLoop):
        every = timedelta(seconds=0.3)

        def __init__(self, label: str) -> None:
            self.name = name
            super().__init__(resources.db)
            self.label = label

        async def run_turn(self, session: AsyncSession) -> None:
            ran.append(self.label)

    first, second = Sweep("first"), Sweep("second")
    await first.run_once()
    await second.run_once()  # too soon, whoever asks
    await first.run_once()
    assert ran == ["first"]
    await asyncio.sleep(0.35)
    await second.run_once()  # due: the first to ask after that takes it
    await first.run_once()
    assert ran == ["first", "second"]
    assert (first.turns, second.turns) == (1, 1)
