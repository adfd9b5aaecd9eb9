"""Organising: a plan first (nothing moves), applying re-checks size, mtime and hash and skips a
changed file, every move is journaled before it happens; rollback undoes them in reverse and
never overwrites a file now at an original path; a worker killed (SIGKILL) in the middle of
organising is rolled back to a byte-identical tree."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.models import VaultMove
from tests.conftest import TEST_JWT_SECRET
from tests.factories import Account, ensure_assets
from tests.jobs.tasks_support import (
    clean_jobs,
    expire_lease,
    job_resources,
    paused_executor,
    run,
)
from tests.procs import ProcessGroup
from tests.vault.helpers import (
    API,
    PDF,
    PNG,
    folders,
    fresh_folder,
    manifest,
    register_local,
    run_job,
    scan,
    write,
)

__all__ = ["clean_jobs", "paused_executor"]  # fixtures, imported to be found by pytest

INBOX = {
    "inbox/AAPL_10-K_2023.pdf": PDF,
    "inbox/MSFT annual report 2022.pdf": PDF + b"msft",
    "inbox/thesis.md": b"# thesis\n",
    "inbox/holiday.png": PNG,
    "inbox/broker statement 2024.csv": b"date,amount\n1,2\n",
    "inbox/prices.csv": b"a,b\n",
    "inbox/archive.zip": b"PK\x05\x06" + b"\x00" * 18,
    "keep/README": b"stays",
}
MTIME = 1_700_000_000
CHECKOUT = Path(__file__).resolve().parents[2]


async def _plan(
    client: httpx.AsyncClient, user: Account, vault_id: str, conflict: str = "skip"
) -> dict[str, Any]:
    result = await run_job(client, user, f"{API}/{vault_id}/organize", {"conflict": conflict})
    response = await client.get(f"/api/v1{result['plan_url'].removeprefix('/api/v1')}",
                                headers=user.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    plan: dict[str, Any] = response.json()["data"]
    return plan


async def test_plan_apply_recheck_and_rollback(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    root = fresh_folder(settings, "org")
    write(root, INBOX, mtime=MTIME)
    vault = await register_local(client, alice, root)
    await scan(client, alice, vault["id"])
    before, before_folders = manifest(root), folders(root)
    plan = await _plan(client, alice, vault["id"])
    assert plan["status"] == "ready"
    moves = {m["src"]: m for m in plan["moves"]}
    assert moves["inbox/AAPL_10-K_2023.pdf"]["dst"] == "filings/AAPL/2023/AAPL_10-K_2023.pdf"
    assert moves["inbox/MSFT annual report 2022.pdf"]["dst"] == (
        "filings/MSFT/2022/MSFT annual report 2022.pdf"
    )
    assert moves["inbox/broker statement 2024.csv"]["dst"] == (
        "statements/2024/broker statement 2024.csv"
    )
    assert moves["inbox/holiday.png"]["dst"].startswith("images/2023/")
    assert "keep/README" not in moves  # no rule matches: it stays
    assert all(m["status"] == "planned" and len(m["hash"]) == 32 for m in plan["moves"])
    assert manifest(root) == before  # a plan is only a plan
    bobs = await client.get(f"{API}/{vault['id']}/plans/{plan['id']}", headers=bob.headers)
    assert bobs.status_code == 404

    # Between the plan and its application: one file's content changes (same size, same mtime:
    # only the hash can tell), another's mtime moves.
    (root / "inbox/thesis.md").write_bytes(b"# THESIS\n")
    os.utime(root / "inbox/thesis.md", (MTIME, MTIME))
    os.utime(root / "inbox/prices.csv", (MTIME + 5, MTIME + 5))
    applied = await run_job(client, alice, f"{API}/{vault['id']}/plans/{plan['id']}/apply")
    assert applied["counts"] == {"done": len(moves) - 2, "changed": 2}
    assert (root / "inbox/thesis.md").read_bytes() == b"# THESIS\n"  # left alone
    assert (root / "filings/AAPL/2023/AAPL_10-K_2023.pdf").read_bytes() == PDF
    assert not (root / "inbox/AAPL_10-K_2023.pdf").exists()
    listed = await client.get(f"{API}/{vault['id']}/files", params={"category": "filings"},
                              headers=alice.headers)  # fmt: skip
    assert "filings/AAPL/2023/AAPL_10-K_2023.pdf" in [
        f["path"] for f in listed.json()["data"]["items"]
    ]
    listed_plans = await client.get(f"{API}/{vault['id']}/plans", headers=alice.headers)
    [summary] = listed_plans.json()["data"]["items"]
    assert summary["id"] == plan["id"]
    assert summary["status"] == "applied"
    assert summary["apply_operation_id"] == applied["_operation_id"]
    assert (await client.get(f"{API}/{vault['id']}/plans", headers=bob.headers)).status_code == 404
    again = await client.post(
        f"{API}/{vault['id']}/plans/{plan['id']}/apply", headers=alice.headers
    )
    assert again.status_code == 409

    # Someone puts a new file where a moved one was: the rollback must not overwrite it.
    write(root, {"inbox/holiday.png": b"a different picture"})
    operation_id = applied["_operation_id"]
    assert (await client.post(f"/api/v1/operations/{operation_id}/rollback",
                              headers=bob.headers)).status_code == 404  # fmt: skip
    assert (await client.post(f"/api/v1/operations/{uuid.uuid4()}/rollback",
                              headers=alice.headers)).status_code == 404  # fmt: skip
    rolled = await run_job(client, alice, f"/api/v1/operations/{operation_id}/rollback")
    assert rolled["counts"] == {"restored": len(moves) - 3, "changed": 2, "conflict": 1}
    assert (root / "inbox/holiday.png").read_bytes() == b"a different picture"
    assert (root / moves["inbox/holiday.png"]["dst"]).read_bytes() == PNG
    after = manifest(root)
    for path, (digest, mtime) in before.items():
        if path not in ("inbox/thesis.md", "inbox/prices.csv", "inbox/holiday.png"):
            assert after[path] == (digest, mtime), path
    assert folders(root) >= before_folders


async def test_rename_new_resolves_a_taken_target(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: Account
) -> None:
    await ensure_assets(db)
    root = fresh_folder(settings, "ren")
    write(root, {"inbox/AAPL_10-K_2023.pdf": PDF, "filings/AAPL/2023/AAPL_10-K_2023.pdf": b"x"},
          mtime=MTIME)  # fmt: skip
    vault = await register_local(client, alice, root)
    await scan(client, alice, vault["id"])
    skipped = await _plan(client, alice, vault["id"], "skip")
    [move] = [m for m in skipped["moves"] if m["src"] == "inbox/AAPL_10-K_2023.pdf"]
    assert move["status"] == "skipped"
    renamed = await _plan(client, alice, vault["id"], "rename_new")
    [move] = [m for m in renamed["moves"] if m["src"] == "inbox/AAPL_10-K_2023.pdf"]
    assert move["status"] == "planned"
    assert move["dst"] == "filings/AAPL/2023/AAPL_10-K_2023 (1).pdf"


async def _requested(client: httpx.AsyncClient, user: Account, path: str) -> str:
    response = await client.post(path, json={}, headers=user.headers)
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["id"])


async def _journal(db: Database, user: Account, plan_id: str) -> list[VaultMove]:
    async with db.transaction(user_id=user.user.id) as session:
        rows = await session.execute(
            select(VaultMove).where(VaultMove.plan_id == uuid.UUID(plan_id)).order_by(VaultMove.seq)
        )
        return list(rows.scalars())


async def _killed_mid_apply(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: Account,
    tmp_path: Path,
) -> tuple[Path, str, str, dict[str, tuple[str, int]], set[str]]:
    """A vault whose plan a worker process was applying when it was killed (SIGKILL):
    (root, plan id, apply operation id, the tree's manifest and folders before)."""
    root = fresh_folder(settings, "kill")
    files = {f"inbox/{i:02}_research note.md": f"note {i}\n".encode() * (i + 1) for i in range(12)}
    files.update({f"inbox/data {i}.csv": f"x,{i}\n".encode() for i in range(8)})
    write(root, files, mtime=MTIME)
    vault = await register_local(client, alice, root)
    async with job_resources(app) as resources:
        scan_op = await _requested(client, alice, f"{API}/{vault['id']}/scan")
        assert await run(resources, uuid.UUID(scan_op)) == "succeeded"
        plan_op = await _requested(client, alice, f"{API}/{vault['id']}/organize")
        assert await run(resources, uuid.UUID(plan_op)) == "succeeded"
    answer = await client.get(f"/api/v1/operations/{plan_op}", headers=alice.headers)
    plan_id = answer.json()["data"]["result"]["plan_id"]
    before, before_folders = manifest(root), folders(root)
    apply_op = await _requested(client, alice, f"{API}/{vault['id']}/plans/{plan_id}/apply")

    worker = ProcessGroup(tmp_path / "worker.log")
    env = {
        **os.environ,
        "QUANTDESK_ENVIRONMENT": "test",
        "QUANTDESK_DATABASE_URL": settings.resolved_database_url,
        "QUANTDESK_DATA_DIR": str(settings.data_dir),
        "QUANTDESK_JWT_SECRET": TEST_JWT_SECRET,
        "QUANTDESK_JOB_LEASE_SECONDS": "2",
        "QUANTDESK_LOG_LEVEL": "WARNING",
    }
    worker.spawn([sys.executable, "-m", "tests.vault.slow_apply", apply_op],
                 cwd=CHECKOUT, env=env)  # fmt: skip
    deadline = asyncio.get_running_loop().time() + 60
    while True:  # until a few moves are done and the worker is in the middle of others
        journal = await _journal(db, alice, plan_id)
        if sum(m.status == "done" for m in journal) >= 4:
            break
        assert worker.alive, worker.tail(2000, missing="no log")
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    worker.kill()
    journal = await _journal(db, alice, plan_id)
    assert any(m.status == "planned" for m in journal)  # it really died half way
    assert manifest(root) != before
    return root, plan_id, apply_op, before, before_folders


@pytest.mark.usefixtures("paused_executor")
async def test_a_worker_killed_mid_organise_rolls_back_to_the_same_tree(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: Account,
    tmp_path: Path,
) -> None:
    root, plan_id, apply_op, before, before_folders = await _killed_mid_apply(
        app, client, db, settings, alice, tmp_path
    )
    rollback_op = await _requested(client, alice, f"/api/v1/operations/{apply_op}/rollback")
    async with job_resources(app) as resources:
        assert await run(resources, uuid.UUID(rollback_op)) == "succeeded"
    assert manifest(root) == before
    assert folders(root) == before_folders
    statuses = {m.status for m in await _journal(db, alice, plan_id)}
    assert statuses <= {"restored", "planned"}
    # A retry of the dead worker's run now stops at once: the plan is rolled back.
    async with job_resources(app) as resources:
        await run(resources, uuid.UUID(apply_op), worker="late-retry")
    assert manifest(root) == before


@pytest.mark.usefixtures("paused_executor")
async def test_a_worker_killed_mid_organise_is_resumed_from_its_journal(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: Account,
    tmp_path: Path,
) -> None:
    root, plan_id, apply_op, before, _ = await _killed_mid_apply(
        app, client, db, settings, alice, tmp_path
    )
    await expire_lease(db, uuid.UUID(apply_op))  # what another worker sees once the lease is out
    async with job_resources(app) as resources:
        assert await run(resources, uuid.UUID(apply_op), worker="next-worker") == "succeeded"
    journal = await _journal(db, alice, plan_id)
    assert {m.status for m in journal} == {"done"}
    # Every file is at its target, byte for byte and with its mtime; nothing is left behind.
    assert manifest(root) == {m.dst: before[m.src] for m in journal}


async def _set_status(db: Database, user: Account, plan_id: str, seq: int, status: str) -> None:
    async with db.transaction(user_id=user.user.id) as session:
        move = (
            await session.execute(
                select(VaultMove).where(
                    VaultMove.plan_id == uuid.UUID(plan_id), VaultMove.seq == seq
                )
            )
        ).scalar_one()
        move.status = status


@pytest.mark.parametrize("then", ["resume", "rollback"])
@pytest.mark.usefixtures("paused_executor")
async def test_half_a_move_in_the_journal_is_settled(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: Account,
    then: str,
) -> None:
    """A crash between the hard link and the unlink leaves the file under both names: resuming
    drops the new name and redoes the move; rolling back drops the new name."""
    root = fresh_folder(settings, "half")
    write(root, {"inbox/a.md": b"a" * 10, "inbox/b.md": b"b" * 20}, mtime=MTIME)
    vault = await register_local(client, alice, root)
    async with job_resources(app) as resources:
        scan_op = await _requested(client, alice, f"{API}/{vault['id']}/scan")
        assert await run(resources, uuid.UUID(scan_op)) == "succeeded"
        plan_op = await _requested(client, alice, f"{API}/{vault['id']}/organize")
        assert await run(resources, uuid.UUID(plan_op)) == "succeeded"
    answer = await client.get(f"/api/v1/operations/{plan_op}", headers=alice.headers)
    plan_id = answer.json()["data"]["result"]["plan_id"]
    before = manifest(root)
    apply_op = await _requested(client, alice, f"{API}/{vault['id']}/plans/{plan_id}/apply")
    [first, *_] = await _journal(db, alice, plan_id)
    (root / first.dst).parent.mkdir(parents=True)
    os.link(root / first.src, root / first.dst)  # the link made, the old name not yet removed
    await _set_status(db, alice, plan_id, first.seq, "moving")
    async with job_resources(app) as resources:
        if then == "resume":
            assert await run(resources, uuid.UUID(apply_op)) == "succeeded"
            journal = await _journal(db, alice, plan_id)
            assert {m.status for m in journal} == {"done"}
            assert manifest(root) == {m.dst: before[m.src] for m in journal}
        else:
            rollback = await _requested(client, alice, f"/api/v1/operations/{apply_op}/rollback")
            assert await run(resources, uuid.UUID(rollback)) == "succeeded"
            assert manifest(root) == before
            assert (root / first.src).stat().st_nlink == 1
