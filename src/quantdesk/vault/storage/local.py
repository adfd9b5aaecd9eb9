"""A vault in a local folder, confined to its root.

Every path is checked twice: as text (``clean_path``: no ``..``, no absolute path, no NUL) and on
disk (the real path, symlinks resolved, must stay under the root; only regular files are read or
written, never a device, a FIFO or a socket). Blocking file I/O runs in worker threads
(``anyio.to_thread``), so the event loop never waits on the disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as statmod
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import xxhash
from anyio import to_thread

from quantdesk.vault.storage.base import (
    CHUNK,
    Entry,
    FileExists,
    FileMissing,
    ListPage,
    PathRefused,
    StorageError,
    TooLarge,
    clean_path,
)

TEMP_MARK = ".qd-tmp-"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _entry(path: str, st: os.stat_result) -> Entry:
    return Entry(
        path=path,
        size=st.st_size,
        mtime=datetime.fromtimestamp(st.st_mtime, UTC),
        inode=st.st_ino,
        device=st.st_dev,
        links=st.st_nlink,
    )


class LocalStorage:
    kind = "local"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(os.path.realpath(root))

    # --- confinement -----------------------------------------------------------------------

    def _inside(self, real: str) -> bool:
        root = str(self.root)
        return real == root or real.startswith(root.rstrip("/") + "/")

    def _target(self, raw: str) -> Path:
        """The absolute path of ``raw``; its parent folders must resolve inside the root."""
        rel = clean_path(raw)
        target = self.root / rel
        parent = os.path.realpath(target.parent)
        if not self._inside(parent):
            raise PathRefused("the path leaves the vault (through a symbolic link)", path=raw)
        return Path(parent) / target.name

    def _regular(self, raw: str) -> tuple[Path, os.stat_result]:
        """An existing regular file (not a link, not a device): its path and lstat."""
        target = self._target(raw)
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            raise FileMissing("no such file", path=raw) from None
        except NotADirectoryError:
            raise FileMissing("no such file", path=raw) from None
        if statmod.S_ISLNK(st.st_mode):
            real = os.path.realpath(target)
            if not self._inside(real):
                raise PathRefused("the path leaves the vault (through a symbolic link)", path=raw)
            raise PathRefused("the path is a symbolic link, not a file", path=raw)
        if not statmod.S_ISREG(st.st_mode):
            kind = "a folder" if statmod.S_ISDIR(st.st_mode) else "not a regular file"
            raise PathRefused(f"the path is {kind}", path=raw)
        return target, st

    def _open_read(self, raw: str) -> tuple[int, os.stat_result]:
        target, _ = self._regular(raw)
        try:
            fd = os.open(target, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PathRefused("the path is a symbolic link", path=raw) from None
            raise StorageError(f"cannot open the file: {exc.strerror}", path=raw) from None
        st = os.fstat(fd)
        if not statmod.S_ISREG(st.st_mode):  # swapped between the check and the open
            os.close(fd)
            raise PathRefused("the path is not a regular file", path=raw)
        return fd, st

    # --- listing ---------------------------------------------------------------------------

    def _walk(self, folder: Path, prefix: str) -> Iterator[Entry]:
        """Regular files under ``folder`` in lexicographic order of their paths (a folder sorts as
        its name plus '/', so depth-first order equals string order); links are not followed."""
        try:
            with os.scandir(folder) as it:
                items = [(e.name + ("/" if e.is_dir(follow_symlinks=False) else ""), e) for e in it]
        except OSError:
            return
        for key, item in sorted(items, key=lambda pair: pair[0]):
            rel = prefix + item.name
            if key.endswith("/"):
                yield from self._walk(Path(item.path), rel + "/")
            elif TEMP_MARK in item.name:
                continue  # an upload in progress or one a crash left behind
            else:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if statmod.S_ISREG(st.st_mode):
                    yield _entry(rel, st)

    def _list(self, cursor: str | None, limit: int) -> ListPage:
        if not self.root.is_dir():  # an unmounted disk must not read as an empty vault
            raise StorageError("the vault's folder is missing")
        entries: list[Entry] = []
        more = False
        for entry in self._walk(self.root, ""):
            if cursor is not None and entry.path <= cursor:
                continue
            if len(entries) == limit:
                more = True
                break
            entries.append(entry)
        return ListPage(entries, entries[-1].path if more and entries else None)

    async def list(self, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        return await to_thread.run_sync(self._list, cursor, limit)

    async def stat(self, path: str) -> Entry:
        def work() -> Entry:
            return _entry(path, self._regular(path)[1])

        return await to_thread.run_sync(work)

    async def exists(self, path: str) -> bool:
        def work() -> bool:
            target = self._target(path)
            return os.path.lexists(target)

        return await to_thread.run_sync(work)

    # --- content ---------------------------------------------------------------------------

    async def read(
        self, path: str, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        fd, _ = await to_thread.run_sync(self._open_read, path)
        try:
            if start:
                await to_thread.run_sync(os.lseek, fd, start, os.SEEK_SET)
            left = length
            while left is None or left > 0:
                size = CHUNK if left is None else min(CHUNK, left)
                chunk = await to_thread.run_sync(os.read, fd, size)
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def hash(self, path: str) -> str:
        def work() -> str:
            fd, _ = self._open_read(path)
            digest = xxhash.xxh3_128()
            try:
                while chunk := os.read(fd, CHUNK):
                    digest.update(chunk)
            finally:
                os.close(fd)
            return digest.hexdigest()

        return await to_thread.run_sync(work)

    async def write(
        self, path: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None
    ) -> Entry:
        """Into a temporary name beside the target, then renamed over it: a reader (or a crash)
        never sees half a file."""
        target = await to_thread.run_sync(self._prepare_write, path)
        temp = target.parent / f".{target.name[:100]}{TEMP_MARK}{uuid.uuid4().hex}"
        fd = await to_thread.run_sync(
            os.open, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o644
        )
        written = 0
        try:
            try:
                async for chunk in chunks:
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise TooLarge(f"the file is larger than {max_bytes} bytes", path=path)
                    await to_thread.run_sync(_write_all, fd, chunk)
                await to_thread.run_sync(os.fsync, fd)
            finally:
                os.close(fd)
            await to_thread.run_sync(self._replace, temp, target, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return await self.stat(path)

    def _prepare_write(self, path: str) -> Path:
        target = self._target(path)
        try:
            os.makedirs(target.parent, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise PathRefused("a folder in the path is a file", path=path) from None
        # Created folders must still be inside (a racing link swap would show here).
        if not self._inside(os.path.realpath(target.parent)):
            raise PathRefused("the path leaves the vault (through a symbolic link)", path=path)
        if os.path.lexists(target):
            self._regular(path)  # only a regular file may be replaced
        return target

    def _replace(self, temp: Path, target: Path, path: str) -> None:
        if os.path.isdir(target):
            raise PathRefused("the path is a folder", path=path)
        os.replace(temp, target)

    # --- moves -----------------------------------------------------------------------------

    def _move(self, src: str, dst: str, keep: bool) -> None:
        source, _ = self._regular(src)
        target = self._prepare_new(dst)
        try:
            # A hard link fails if the name is taken: an atomic "move without overwrite".
            os.link(source, target, follow_symlinks=False)
        except FileExistsError:
            raise FileExists("a file already exists there", path=dst) from None
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
                raise StorageError(f"cannot move the file: {exc.strerror}", path=src) from None
            if keep:
                raise StorageError("cannot copy across file systems", path=src) from None
            # No hard links here: a rename after a check (a small race, documented).
            if os.path.lexists(target):
                raise FileExists("a file already exists there", path=dst) from None
            os.rename(source, target)
            self._prune(source.parent)
            return
        if not keep:
            os.unlink(source)
            self._prune(source.parent)

    def _prune(self, folder: Path) -> None:
        """Remove the folders a move emptied, up to the root (so a rollback leaves the tree as it
        was: the move back makes them again)."""
        while self._inside(str(folder)) and folder != self.root:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def _prepare_new(self, path: str) -> Path:
        target = self._target(path)
        try:
            os.makedirs(target.parent, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise PathRefused("a folder in the path is a file", path=path) from None
        if not self._inside(os.path.realpath(target.parent)):
            raise PathRefused("the path leaves the vault (through a symbolic link)", path=path)
        return target

    async def move(self, src: str, dst: str) -> None:
        await to_thread.run_sync(self._move, src, dst, False)

    async def copy(self, src: str, dst: str) -> None:
        def work() -> None:
            _source, st = self._regular(src)
            target = self._prepare_new(dst)
            fd_in, _ = self._open_read(src)
            temp = target.parent / f".{target.name[:100]}{TEMP_MARK}{uuid.uuid4().hex}"
            try:
                with os.fdopen(fd_in, "rb") as reader, open(temp, "xb") as writer:
                    while chunk := reader.read(CHUNK):
                        writer.write(chunk)
                os.utime(temp, ns=(st.st_atime_ns, st.st_mtime_ns))
                try:
                    os.link(temp, target)
                except FileExistsError:
                    raise FileExists("a file already exists there", path=dst) from None
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

        await to_thread.run_sync(work)

    async def delete(self, path: str) -> None:
        def work() -> None:
            target, _ = self._regular(path)
            os.unlink(target)

        await to_thread.run_sync(work)

    async def aclose(self) -> None:
        return None

    @staticmethod
    async def make_root(root: Path) -> None:
        await anyio.Path(root).mkdir(parents=True, exist_ok=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
