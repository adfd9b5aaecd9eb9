"""Delivery guarantees on real workers: a node killed mid-job, duplicates, beat's requests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from celery import Celery
from sqlalchemy import text, update

from quantdesk.jobs.celery_config import PERIODIC_TASK, SWEEP_TASK
from quantdesk.jobs.executors.base import Submission
from quantdesk.jobs.executors.celery import CeleryExecutor, celery_worker_status
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.orm import utcnow
from quantdesk.models import Operation
from tests.jobs import suite
from tests.jobs.celery.harness import CeleryWorker, wait_broker_idle
from tests.jobs.celery.kinds import EFFECTS_TABLE

ITEMS = 40
WAIT_SECONDS = 30.0


async def _effects(resources: JobResources, operation_id: uuid.UUID) -> list[tuple[int, str]]:
    async with resources.db.transaction() as session:
        rows = await session.execute(
            text(f"SELECT item, worker FROM {EFFECTS_TABLE} WHERE operation_id = :id"),
            {"id": str(operation_id)},
        )
        return sorted((int(item), str(worker)) for item, worker in rows.all())


async def _wait_progress(
    resources: JobResources, operation_id: uuid.UUID, *, at_least: int
) -> Operation:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        operation = await suite.read(resources, operation_id)
        if operation.progress_done >= at_least:
            return operation
        await asyncio.sleep(0.02)
    raise AssertionError(f"{operation_id} did not reach {at_least} items in {WAIT_SECONDS} s")


def _node_of(lease_owner: str | None, workers: list[CeleryWorker]) -> CeleryWorker:
    assert lease_owner is not None
    return next(w for w in workers if lease_owner.startswith(f"{w.node}:"))


async def test_kill_9_mid_bulk_job_another_worker_finishes_each_effect_once(
    live_workers: list[CeleryWorker],
    celery_resources: JobResources,
    celery_executor: CeleryExecutor,
) -> None:
    operation_id = await suite.request(
        celery_resources, celery_executor, "test_celery_items", {"items": ITEMS, "pause": 0.05}
    )
    running = await _wait_progress(celery_resources, operation_id, at_least=5)
    victim = _node_of(running.lease_owner, live_workers)
    await asyncio.to_thread(victim.kill)
    victim.start()  # a replacement node boots meanwhile, for the tests after this one
    checkpoint = (await suite.read(celery_resources, operation_id)).progress_done
    assert 5 <= checkpoint < ITEMS, "the job must die in the middle"

    done = await suite.wait_for(celery_resources, operation_id, timeout=60)

    assert done.status == "succeeded", done.error
    assert done.progress_done == ITEMS
    assert done.attempts == 2  # the killed run, then the one that finished it
    assert done.result is not None
    assert done.result["resumed_from"] == checkpoint  # continued from the last committed item
    assert done.result["worker"] != running.lease_owner  # another worker process finished it
    effects = await _effects(celery_resources, operation_id)
    assert Counter(item for item, _ in effects) == Counter(range(ITEMS))  # each item exactly once
    assert {w for item, w in effects if item < checkpoint} == {running.lease_owner}
    assert {w for item, w in effects if item >= checkpoint} == {done.result["worker"]}


async def test_duplicate_celery_delivery_of_a_finished_job_changes_nothing(
    live_workers: list[CeleryWorker],
    celery_resources: JobResources,
    celery_executor: CeleryExecutor,
    celery_client: Celery,
) -> None:
    operation_id = await suite.request(
        celery_resources, celery_executor, "test_celery_items", {"items": 5}
    )
    first = await suite.wait_for(celery_resources, operation_id)
    assert first.status == "succeeded"
    effects = await _effects(celery_resources, operation_id)
    assert len(effects) == 5

    for _ in range(3):  # the same message again, as a broker redelivery would
        celery_client.send_task("test_celery_items", [str(operation_id)], queue=first.queue)
    await asyncio.to_thread(wait_broker_idle, celery_client)  # consumed and acknowledged

    again = await suite.read(celery_resources, operation_id)
    columns = ("status", "attempts", "result", "progress_done", "finished_at", "updated_at")
    assert {c: getattr(again, c) for c in columns} == {c: getattr(first, c) for c in columns}
    assert again.lease_owner is None
    assert await _effects(celery_resources, operation_id) == effects


async def _system_operations(resources: JobResources, kind: str) -> list[Operation]:
    async with resources.db.transaction(system=True) as session:
        rows = await session.execute(
            Operation.__table__.select().where(Operation.kind == kind)  # type: ignore[attr-defined]
        )
        return [Operation(**row._mapping) for row in rows]


async def test_beat_request_creates_a_system_operation_that_workers_run(
    live_workers: list[CeleryWorker],
    celery_resources: JobResources,
    celery_client: Celery,
) -> None:
    # What beat sends at each tick of a schedule entry.
    celery_client.send_task(PERIODIC_TASK, ["test_noop", {"echo": "tick"}], queue="maintenance")
    for _ in range(500):
        operations = await _system_operations(celery_resources, "test_noop")
        if operations and operations[0].status == "succeeded":
            break
        await asyncio.sleep(0.02)
    assert len(operations) == 1
    assert operations[0].owner_id is None
    assert operations[0].status == "succeeded"
    assert operations[0].result == {"echo": "tick"}


async def test_sweep_resends_an_operation_whose_message_was_lost(
    live_workers: list[CeleryWorker],
    celery_resources: JobResources,
    celery_client: Celery,
    celery_executor: CeleryExecutor,
) -> None:
    class Silent(CeleryExecutor):
        async def submit(self, jobs: Sequence[Submission]) -> None:
            return None  # the message is lost (broker restarted, request made from a CLI…)

    lost = Silent(celery_executor.settings, app=celery_client)
    operation_id = await suite.request(celery_resources, lost, "test_noop", {"echo": "found"})
    async with celery_resources.db.transaction(system=True) as session:
        # Requested longer ago than a lease period: the sweep takes only rows nobody picked up.
        await session.execute(
            update(Operation)
            .where(Operation.id == operation_id)
            .values(updated_at=utcnow() - timedelta(minutes=1))
        )
    await asyncio.sleep(0.3)
    assert (await suite.read(celery_resources, operation_id)).status == "pending"

    celery_client.send_task(SWEEP_TASK, queue="maintenance")  # what beat sends every lease period
    done = await suite.wait_for(celery_resources, operation_id, timeout=20)
    assert done.status == "succeeded"
    assert done.result == {"echo": "found"}


async def test_worker_status_lists_live_nodes_and_queue_depths(
    live_workers: list[CeleryWorker],
    celery_resources: JobResources,
    celery_client: Celery,
    celery_executor: CeleryExecutor,
) -> None:
    celery_executor.status_timeout = 2.0  # generous: replies are slow on a loaded machine
    status, infos = await asyncio.gather(
        asyncio.to_thread(celery_worker_status, celery_client, 2.0), celery_executor.workers()
    )
    assert {w["name"] for w in status["workers"]} == {w.node for w in live_workers}
    assert status["queues"] == {"validation": 0, "bulk_validation": 0, "maintenance": 0}
    assert sorted(i.id for i in infos) == sorted(w.node for w in live_workers)
    assert all(i.executor == "celery" and i.running == 0 for i in infos)
