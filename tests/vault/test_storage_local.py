"""The local provider: confined to its root (fuzzed: no generated path escapes), atomic writes,
moves that never overwrite, paged recursive listing, content hashes."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.vault.storage import (
    FileExists,
    FileMissing,
    LocalStorage,
    PathRefused,
    StorageError,
    TooLarge,
)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A vault root with a secret beside it and links that point out of the root."""
    root = tmp_path / "vault"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "a.txt").write_bytes(b"alpha")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    os.symlink(outside, root / "escape")
    os.symlink(outside / "secret.txt", root / "notes" / "leak.txt")
    os.symlink("/", root / "slash")
    return root, outside


async def _read(storage: LocalStorage, path: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(path)])


async def test_read_write_stat_hash_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    entry = await storage.write("deep/er/file.bin", _chunks(b"hello ", b"world"))
    assert entry.size == 11
    assert entry.inode is not None
    assert await _read(storage, "deep/er/file.bin") == b"hello world"
    assert await storage.hash("deep/er/file.bin") == xxhash.xxh3_128(b"hello world").hexdigest()
    part = b"".join([c async for c in storage.read("deep/er/file.bin", start=6, length=3)])
    assert part == b"wor"
    # No temporary file is left beside it.
    assert os.listdir(tmp_path / "deep" / "er") == ["file.bin"]


async def test_a_write_over_the_limit_leaves_nothing_behind(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.write("kept.txt", _chunks(b"old"))
    with pytest.raises(TooLarge):
        await storage.write("kept.txt", _chunks(b"x" * 10, b"y" * 10), max_bytes=15)
    assert (tmp_path / "kept.txt").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["kept.txt"]


async def test_move_never_overwrites_and_keeps_mtime(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.write("a.txt", _chunks(b"a"))
    await storage.write("b.txt", _chunks(b"b"))
    os.utime(tmp_path / "a.txt", (1_600_000_000, 1_600_000_000))
    with pytest.raises(FileExists):
        await storage.move("a.txt", "b.txt")
    assert (tmp_path / "b.txt").read_bytes() == b"b"
    await storage.move("a.txt", "moved/a.txt")
    assert not (tmp_path / "a.txt").exists()
    assert (await storage.stat("moved/a.txt")).mtime.timestamp() == 1_600_000_000
    await storage.copy("moved/a.txt", "copy.txt")
    assert (tmp_path / "copy.txt").read_bytes() == b"a"
    await storage.delete("copy.txt")
    with pytest.raises(FileMissing):
        await storage.stat("copy.txt")


async def test_listing_is_recursive_sorted_and_paged(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    names = ["a.txt", "a/x.txt", "a/b/c.txt", "b.txt", "a-b.txt", "z/y/x/w.txt"]
    for name in names:
        await storage.write(name, _chunks(name.encode()))
    os.symlink(tmp_path / "b.txt", tmp_path / "link.txt")  # links are not listed
    seen: list[str] = []
    cursor = None
    while True:
        page = await storage.list(cursor=cursor, limit=2)
        seen.extend(e.path for e in page.entries)
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == sorted(names)


async def test_a_missing_root_is_an_error_not_an_empty_vault(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="missing"):
        await LocalStorage(tmp_path / "unmounted").list()


async def test_links_out_of_the_root_and_special_files_are_refused(tmp_path: Path) -> None:
    root, outside = _tree(tmp_path)
    storage = LocalStorage(root)
    for path in ("escape/secret.txt", "notes/leak.txt", "slash/etc/passwd"):
        with pytest.raises(PathRefused):
            await _read(storage, path)
        with pytest.raises(PathRefused):
            await storage.write(path, _chunks(b"pwned"))
        with pytest.raises((PathRefused, FileExists)):  # a link there is never replaced
            await storage.move("notes/a.txt", path)
    assert (outside / "secret.txt").read_bytes() == b"secret"
    fifo = root / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(PathRefused, match="not a regular file"):
        await _read(storage, "pipe")
    sock_path = root / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        with pytest.raises(PathRefused):
            await storage.hash("s.sock")
    finally:
        server.close()
    with pytest.raises(PathRefused):
        await LocalStorage("/dev").stat("null")  # a device file, even inside its root


@pytest.mark.parametrize(
    "path", ["../x", "a/../../x", "/etc/passwd", "a\x00b", "", ".", "a//b", "C:/x", "a\\..\\b"]
)
async def test_malformed_paths_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(PathRefused):
        await LocalStorage(tmp_path).stat(path)


_SEGMENTS = st.sampled_from(
    ["..", ".", "", "escape", "slash", "notes", "leak.txt", "a.txt", "etc", "passwd", "%2e%2e",
     "\x00", "/", "\\..", "~", "..%2f", "secret.txt", "…", "a" * 300]
)  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(st.one_of(_SEGMENTS, st.text(max_size=6)), min_size=1, max_size=6))
def test_fuzzed_paths_never_escape(tmp_path: Path, parts: list[str]) -> None:
    """Whatever the path, every operation either stays inside the root or is refused."""
    base = tmp_path / "fuzz"
    if not base.exists():
        _tree(base)
    root, outside = base / "vault", base / "outside"
    path = "/".join(parts)

    async def attempt() -> None:
        storage = LocalStorage(root)
        for operation in (
            lambda: storage.stat(path),
            lambda: _read(storage, path),
            lambda: storage.write(path, _chunks(b"fuzz")),
            lambda: storage.move("notes/a.txt", path),
            lambda: storage.copy("notes/a.txt", path),
        ):
            with contextlib.suppress(StorageError, OSError):
                await operation()
        # Put the source back if it moved, so every example starts alike.
        if not (root / "notes" / "a.txt").exists():
            (root / "notes" / "a.txt").write_bytes(b"alpha")

    anyio.run(attempt)
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert sorted(os.listdir(base)) == ["outside", "vault"]
    # Everything written or moved is a real file inside the root.
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                assert os.path.realpath(full).startswith(str(root) + "/")
