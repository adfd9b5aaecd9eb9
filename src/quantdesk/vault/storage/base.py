"""The one storage interface of the vault, and what every provider shares.

Paths are always relative, ``/``-separated and already checked (``clean_path``): a provider never
sees ``..``, an absolute path or a NUL byte. Listing is recursive, in lexicographic order of the
path (code points, which is also the UTF-8 byte order S3 lists in), so a cursor is simply the last
path of the previous page.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import xxhash

CHUNK = 1024 * 1024
BLOCK = 4096  # the first and last block compared before a full hash (duplicates)
MAX_PATH_LENGTH = 1024
MAX_SEGMENT_LENGTH = 255


class StorageError(Exception):
    """A storage operation that cannot be done; ``reason`` is safe to show to the owner."""

    code = "storage_error"

    def __init__(self, reason: str, *, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


class PathRefused(StorageError):
    """The path would leave the vault, or names something that is not a regular file."""

    code = "path_refused"


class FileMissing(StorageError):
    code = "file_missing"


class FileExists(StorageError):
    code = "file_exists"


class TooLarge(StorageError):
    code = "too_large"


@dataclass(frozen=True)
class Entry:
    """A regular file of the storage."""

    path: str
    size: int
    mtime: datetime
    inode: int | None = None  # (device, inode) folded into one number where the storage has one
    device: int | None = None
    links: int = 1


@dataclass(frozen=True)
class ListPage:
    entries: list[Entry]
    cursor: str | None  # the last path of this page; None on the last page


@runtime_checkable
class Storage(Protocol):
    """A vault's files: a local folder or an S3 bucket/prefix."""

    kind: str

    async def list(self, *, cursor: str | None = None, limit: int = 1000) -> ListPage: ...

    async def stat(self, path: str) -> Entry: ...

    def read(self, path: str, *, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The file's bytes as a stream of chunks (from ``start``, ``length`` bytes at most)."""
        ...

    async def write(
        self, path: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None
    ) -> Entry:
        """Write a whole file from a stream: it appears complete or not at all (TooLarge past
        ``max_bytes``, and nothing is left behind)."""
        ...

    async def move(self, src: str, dst: str) -> None:
        """Move a file; FileExists when ``dst`` is taken (never overwrites)."""
        ...

    async def copy(self, src: str, dst: str) -> None: ...

    async def delete(self, path: str) -> None: ...

    async def exists(self, path: str) -> bool: ...

    async def hash(self, path: str) -> str:
        """xxh3-128 (hex) of the content, read in full (an S3 ETag is not a content hash)."""
        ...

    async def aclose(self) -> None: ...


def clean_path(raw: str, *, field: str = "path") -> str:
    """A relative path inside a vault, normalised, or PathRefused saying why.

    Refused: empty, NUL or other control characters, backslashes, absolute paths (and Windows
    drives), ``.`` and ``..`` segments, empty segments, over-long names.
    """
    if not isinstance(raw, str) or raw == "":
        raise PathRefused("the path is empty", path=raw)
    if "\x00" in raw:
        raise PathRefused("the path contains a NUL byte")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise PathRefused("the path contains a control character", path=raw)
    if "\\" in raw:
        raise PathRefused("use '/' between folders, not '\\'", path=raw)
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise PathRefused("the path must be relative to the vault", path=raw)
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_PATH_LENGTH:
        raise PathRefused(f"the path is longer than {MAX_PATH_LENGTH} bytes", path=raw)
    parts = raw.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise PathRefused(f"the path has a {part or 'empty'!r} segment", path=raw)
        if len(part.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_LENGTH:
            raise PathRefused("a name in the path is too long", path=raw)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PathRefused("the path is not valid UTF-8", path=raw) from exc
    return raw


async def hash_stream(chunks: AsyncIterator[bytes]) -> str:
    """xxh3-128 of the stream's bytes (hex): never an ETag, always the content."""
    digest = xxhash.xxh3_128()
    async for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


async def full_hash(storage: Storage, path: str) -> str:
    return await hash_stream(storage.read(path))


async def edge_hash(storage: Storage, path: str, size: int) -> str:
    """Hash of the first and the last ``BLOCK`` bytes (the whole file when it is that small)."""
    digest = xxhash.xxh3_128()
    async for chunk in storage.read(path, start=0, length=BLOCK):
        digest.update(chunk)
    if size > BLOCK:
        tail = max(BLOCK, size - BLOCK)
        async for chunk in storage.read(path, start=tail, length=size - tail):
            digest.update(chunk)
    return digest.hexdigest()


async def head_bytes(storage: Storage, path: str, length: int = 8192) -> bytes:
    parts = [chunk async for chunk in storage.read(path, start=0, length=length)]
    return b"".join(parts)
