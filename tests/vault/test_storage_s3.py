"""The S3 provider against a moto server over HTTP: paged listing, ranged reads, multipart
uploads, moves that never overwrite, and hashes that come from the content, never the ETag."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import xxhash

from quantdesk.vault.storage import FileExists, FileMissing, PathRefused, S3Storage, TooLarge
from tests.vault.s3_server import ACCESS_KEY, SECRET_KEY, S3Server


def _storage(server: S3Server, bucket: str, **kwargs: int) -> S3Storage:
    return S3Storage(
        bucket=bucket,
        prefix="research/",
        endpoint_url=server.endpoint_url,
        region="us-east-1",
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        **kwargs,
    )


async def _chunks(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(storage: S3Storage, path: str, **kwargs: int) -> bytes:
    return b"".join([c async for c in storage.read(path, **kwargs)])


async def test_write_read_stat_hash(s3_server: S3Server) -> None:
    storage = _storage(s3_server, s3_server.new_bucket())
    entry = await storage.write("filings/AAPL 10-K.pdf", _chunks(b"%PDF-1.7 annual report"))
    assert entry.size == 22
    assert entry.inode is None
    assert await _read(storage, "filings/AAPL 10-K.pdf") == b"%PDF-1.7 annual report"
    assert await _read(storage, "filings/AAPL 10-K.pdf", start=9, length=6) == b"annual"
    assert await storage.hash("filings/AAPL 10-K.pdf") == (
        xxhash.xxh3_128(b"%PDF-1.7 annual report").hexdigest()
    )
    empty = await storage.write("empty.txt", _chunks(b""))
    assert empty.size == 0
    assert await _read(storage, "empty.txt") == b""
    with pytest.raises(FileMissing):
        await storage.stat("nope.txt")
    with pytest.raises(PathRefused):
        await storage.stat("../other-prefix/x")
    await storage.aclose()


async def test_multipart_upload_and_content_hash_not_etag(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    storage = _storage(s3_server, bucket, multipart_threshold=5 * 1024 * 1024)
    data = os.urandom(11 * 1024 * 1024 + 17)
    await storage.write("data/big.bin", _chunks(data))
    head = storage._client.head_object(Bucket=bucket, Key="research/data/big.bin")
    assert "-" in head["ETag"]  # a multipart ETag: not an MD5 of anything
    assert await storage.hash("data/big.bin") == xxhash.xxh3_128(data).hexdigest()
    await storage.move("data/big.bin", "archive/big.bin")
    assert await storage.hash("archive/big.bin") == xxhash.xxh3_128(data).hexdigest()
    assert not await storage.exists("data/big.bin")


async def test_too_large_upload_leaves_no_object(s3_server: S3Server) -> None:
    storage = _storage(s3_server, s3_server.new_bucket())
    with pytest.raises(TooLarge):
        await storage.write("x.bin", _chunks(b"z" * 100, 10), max_bytes=50)
    assert not await storage.exists("x.bin")


async def test_paged_listing_and_no_overwrite(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    storage = _storage(s3_server, bucket)
    names = sorted(f"folder{i % 3}/file{i:02}.txt" for i in range(7))
    for name in names:
        await storage.write(name, _chunks(name.encode()))
    # Outside the prefix: never listed.
    storage._client.put_object(Bucket=bucket, Key="elsewhere/x.txt", Body=b"x")
    seen: list[str] = []
    cursor = None
    while True:
        page = await storage.list(cursor=cursor, limit=3)
        seen.extend(e.path for e in page.entries)
        if page.cursor is None:
            break
        cursor = page.cursor
    assert seen == names
    with pytest.raises(FileExists):
        await storage.move(names[0], names[1])
    assert await _read(storage, names[1]) == names[1].encode()
    await storage.copy(names[0], "copy.txt")
    await storage.delete(names[0])
    assert await _read(storage, "copy.txt") == names[0].encode()
