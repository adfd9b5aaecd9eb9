"""Duplicate groups equal a brute-force grouping (content compared byte for byte, hard links one
file, links and empty files never duplicates) on generated trees full of edge cases; clean-up
quarantines, never deletes, and rolls back to the same tree."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from quantdesk.kit.config import Settings
from tests.factories import Account
from tests.vault.helpers import (
    API,
    fresh_folder,
    manifest,
    register_local,
    run_job,
    scan,
    wait_finished,
    write,
)

BLOCK = 4096


def generate_tree(root: Path, seed: int) -> None:
    rng = random.Random(seed)
    head, tail = rng.randbytes(BLOCK), rng.randbytes(BLOCK)
    middle_a, middle_b = rng.randbytes(3000), rng.randbytes(3000)
    same = rng.randbytes(10_000)
    small = rng.randbytes(100)
    files: dict[str, bytes] = {
        "empty/a.txt": b"",
        "empty/b.txt": b"",
        "empty/c/d.txt": b"",
        "size/one.bin": b"A" * 500,  # same size, different content
        "size/two.bin": b"B" * 500,
        "edges/x.bin": head + middle_a + tail,  # same first and last 4 KiB, middle differs
        "edges/y.bin": head + middle_b + tail,
        "edges/z.bin": head + middle_a + tail,  # a true duplicate of x
        "copies/a/same.dat": same,
        "copies/b/same.dat": same,
        "copies/c/same (copy).dat": same,
        "small/1.txt": small,
        "small/2.txt": small,
        "mid/p.bin": b"m" * 6000,  # between one and two blocks
        "mid/q.bin": b"m" * 6000,
        "mid/r.bin": b"m" * 5999 + b"n",
        "linked/original.pdf": b"%PDF-hard-linked",
        "solo/alone.txt": b"only one",
    }
    for i in range(rng.randint(5, 15)):  # random extras: some collide, some do not
        content = rng.choice([small, rng.randbytes(rng.choice([1, 100, 4096, 8193]))])
        files[f"random/{seed}/{i}.bin"] = content
    write(root, files)
    os.link(root / "linked/original.pdf", root / "linked/hardlink.pdf")  # one inode, two names
    os.link(root / "copies/a/same.dat", root / "copies/a/same-link.dat")
    os.symlink(root / "copies/a/same.dat", root / "copies/symlink.dat")  # never a duplicate
    write(root, {"links-only/x.txt": b"two names, one file"})
    os.link(root / "links-only/x.txt", root / "links-only/y.txt")


def brute_force(root: Path) -> set[frozenset[frozenset[str]]]:
    by_content: dict[bytes, dict[tuple[int, int], set[str]]] = defaultdict(lambda: defaultdict(set))
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = Path(dirpath) / name
            if full.is_symlink() or ".quarantine" in full.parts:
                continue
            content = full.read_bytes()
            if content:
                st = full.stat()
                by_content[content][(st.st_dev, st.st_ino)].add(full.relative_to(root).as_posix())
    return {
        frozenset(frozenset(paths) for paths in inodes.values())
        for inodes in by_content.values()
        if len(inodes) > 1
    }


def reported(report: dict[str, Any]) -> set[frozenset[frozenset[str]]]:
    return {
        frozenset(frozenset(copy["paths"]) for copy in group["copies"])
        for group in report["groups"]
    }


@pytest.mark.parametrize("seed", [1, 2])
async def test_groups_equal_a_brute_force_grouping(
    client: httpx.AsyncClient, settings: Settings, alice: Account, seed: int
) -> None:
    root = fresh_folder(settings, "dupes")
    generate_tree(root, seed)
    vault = await register_local(client, alice, root)
    await scan(client, alice, vault["id"])
    result = await run_job(client, alice, f"{API}/{vault['id']}/duplicates")
    response = await client.get(f"{API}/{vault['id']}/duplicates", headers=alice.headers)
    report = response.json()["data"]
    expected = brute_force(root)
    assert reported(report) == expected
    assert report["group_count"] == len(expected)
    reclaimable = sum((len(group) - 1) * _size(root, group) for group in expected)
    assert report["reclaimable_bytes"] == reclaimable
    assert result["reclaimable_bytes"] == reclaimable
    # The edge cases, spelled out.
    flat = {p for group in expected for copy in group for p in copy}
    assert not flat & {"empty/a.txt", "size/one.bin", "edges/y.bin", "copies/symlink.dat"}
    assert not flat & {"links-only/x.txt", "mid/r.bin", "solo/alone.txt"}
    assert {"edges/x.bin", "edges/z.bin", "mid/p.bin", "small/1.txt"} <= flat
    # A second run reads nothing again: every hash is stored.
    again = await run_job(client, alice, f"{API}/{vault['id']}/duplicates")
    assert again["counts"]["edge_hashed"] == result["counts"]["edge_hashed"]
    assert (
        reported(
            (await client.get(f"{API}/{vault['id']}/duplicates", headers=alice.headers)).json()[
                "data"
            ]
        )
        == expected
    )


def _size(root: Path, group: frozenset[frozenset[str]]) -> int:
    return (root / next(iter(next(iter(group))))).stat().st_size


@pytest.mark.parametrize("keep", ["oldest", "newest", "shortest_path", "reference"])
async def test_clean_up_quarantines_all_but_one_and_rolls_back(
    client: httpx.AsyncClient, settings: Settings, alice: Account, keep: str
) -> None:
    root = fresh_folder(settings, "clean")
    generate_tree(root, 3)
    for i, path in enumerate(
        ["copies/a/same.dat", "copies/b/same.dat", "copies/c/same (copy).dat"]
    ):
        os.utime(root / path, (1_600_000_000 + i * 1000, 1_600_000_000 + i * 1000))
    before = manifest(root)
    vault = await register_local(client, alice, root)
    await scan(client, alice, vault["id"])
    await run_job(client, alice, f"{API}/{vault['id']}/duplicates")
    body: dict[str, Any] = {"keep": keep}
    if keep == "reference":
        body["reference"] = "copies/c"
    planned = await run_job(client, alice, f"{API}/{vault['id']}/duplicates/cleanup", body)
    plan_url = planned["plan_url"].removeprefix("/api/v1")
    plan = (await client.get(f"/api/v1{plan_url}", headers=alice.headers)).json()["data"]
    assert plan["status"] == "ready"
    assert all(m["dst"].startswith(".quarantine/") for m in plan["moves"])
    assert manifest(root) == before  # a plan moves nothing
    applied = await run_job(client, alice, f"/api/v1{plan_url}/apply")
    assert applied["counts"] == {"done": plan["move_count"]}
    after = manifest(root)
    # Nothing deleted: the same bytes, some now in quarantine.
    contents = sorted(h for h, _ in after.values() if not h.startswith("link:"))
    assert contents == sorted(h for h, _ in before.values() if not h.startswith("link:"))
    assert brute_force(root) == set()  # one copy of each left outside the quarantine
    report = (await client.get(f"{API}/{vault['id']}/duplicates", headers=alice.headers)).json()
    assert report["data"]["group_count"] == 0  # quarantined copies are not duplicates any more
    replanned = await run_job(client, alice, f"{API}/{vault['id']}/organize")
    plan_path = replanned["plan_url"].removeprefix("/api/v1")
    replan = (await client.get(f"/api/v1{plan_path}", headers=alice.headers)).json()["data"]
    assert not [m for m in replan["moves"] if m["src"].startswith(".quarantine/")]
    kept = [p for p in after if p.startswith("copies/") and "same" in p]
    expected_kept = {
        "oldest": {"copies/a/same.dat", "copies/a/same-link.dat"},
        "newest": {"copies/c/same (copy).dat"},
        "shortest_path": {"copies/a/same.dat", "copies/a/same-link.dat"},
        "reference": {"copies/c/same (copy).dat"},
    }[keep]
    assert set(kept) == expected_kept
    rollback = await client.post(
        f"/api/v1/operations/{applied['_operation_id']}/rollback", headers=alice.headers
    )
    assert rollback.status_code == 202, rollback.text
    done = await wait_finished(client, alice, rollback.json()["data"]["id"])
    assert done["status"] == "succeeded", done
    assert manifest(root) == before
