"""A vault in an S3 bucket (AWS S3, Cloudflare R2, MinIO through an endpoint URL).

boto3 (AWS's own SDK, the best-kept S3 client) runs in worker threads (``anyio.to_thread``):
aioboto3/aiobotocore trail botocore's releases and pin it, while boto3's transfer manager already
does multipart uploads and copies (past ``MULTIPART_THRESHOLD``) and aborts a failed one, so no
half-written object is ever visible. An ETag is never taken for a content hash (multipart ETags
are not MD5s): ``hash`` reads the content.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread

from quantdesk.vault.storage.base import (
    CHUNK,
    Entry,
    FileExists,
    FileMissing,
    ListPage,
    StorageError,
    TooLarge,
    clean_path,
    hash_stream,
)

MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNK = 8 * 1024 * 1024
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Storage:
    kind = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                s3={"addressing_style": "path"} if endpoint_url else None,
            ),
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(5 * 1024 * 1024, min(multipart_threshold, MULTIPART_CHUNK)),
            use_threads=False,
        )

    def _key(self, path: str) -> str:
        return self.prefix + clean_path(path)

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) :]

    async def _call(self, name: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        def work() -> Any:
            return getattr(self._client, name)(**kwargs)

        try:
            return await to_thread.run_sync(work)
        except ClientError as exc:
            if _missing(exc):
                raise FileMissing("no such file", path=kwargs.get("Key")) from None
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StorageError(f"the bucket refused: {code}") from None
        except BotoCoreError as exc:
            raise StorageError(f"cannot reach the bucket: {type(exc).__name__}") from None

    async def list(self, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "MaxKeys": max(1, min(limit, 1000))}
        if self.prefix:
            kwargs["Prefix"] = self.prefix
        if cursor:
            kwargs["StartAfter"] = self.prefix + cursor
        answer = await self._call("list_objects_v2", **kwargs)
        entries = []
        for item in answer.get("Contents", []):
            rel = self._rel(item["Key"])
            try:
                clean_path(rel)
            except StorageError:
                continue  # a key no vault path can name (`a//b`, `../x`): not listed
            entries.append(
                Entry(path=rel, size=int(item["Size"]), mtime=item["LastModified"].astimezone(UTC))
            )
        last = self._rel(answer["Contents"][-1]["Key"]) if answer.get("Contents") else None
        return ListPage(entries, last if answer.get("IsTruncated") else None)

    async def stat(self, path: str) -> Entry:
        answer = await self._call("head_object", Bucket=self.bucket, Key=self._key(path))
        modified: datetime = answer["LastModified"]
        return Entry(path=path, size=int(answer["ContentLength"]), mtime=modified.astimezone(UTC))

    async def exists(self, path: str) -> bool:
        try:
            await self.stat(path)
        except FileMissing:
            return False
        return True

    async def read(
        self, path: str, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        if length == 0:
            return
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(path)}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            kwargs["Range"] = f"bytes={start}-{end}"
        try:
            answer = await self._call("get_object", **kwargs)
        except StorageError as exc:
            if "InvalidRange" in exc.reason:
                return  # a range past the end of an empty object
            raise
        body = answer["Body"]
        try:
            while chunk := await to_thread.run_sync(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def hash(self, path: str) -> str:
        return await hash_stream(self.read(path))

    async def write(
        self, path: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None
    ) -> Entry:
        """Spooled to a temporary file (memory up to 8 MiB), then uploaded in one managed transfer
        (multipart past the threshold): the object appears whole or not at all."""
        key = self._key(path)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            written = 0
            async for chunk in chunks:
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise TooLarge(f"the file is larger than {max_bytes} bytes", path=path)
                await to_thread.run_sync(spool.write, chunk)
            spool.seek(0)
            await self._upload(spool, key)
        return await self.stat(path)

    async def _upload(self, reader: Any, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        def work() -> None:
            self._client.upload_fileobj(reader, self.bucket, key, Config=self._transfer)

        try:
            await to_thread.run_sync(work)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"the upload failed: {type(exc).__name__}") from None

    async def copy(self, src: str, dst: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if await self.exists(dst):
            # S3 has no "copy unless it exists": checked first (a small race, documented).
            raise FileExists("a file already exists there", path=dst)
        await self.stat(src)
        source = {"Bucket": self.bucket, "Key": self._key(src)}

        def work() -> None:
            self._client.copy(source, self.bucket, self._key(dst), Config=self._transfer)

        try:
            await to_thread.run_sync(work)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"the copy failed: {type(exc).__name__}") from None

    async def move(self, src: str, dst: str) -> None:
        """Copy then delete (S3 has no rename): a crash in between leaves both, never neither."""
        await self.copy(src, dst)
        await self.delete(src)

    async def delete(self, path: str) -> None:
        await self._call("delete_object", Bucket=self.bucket, Key=self._key(path))

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()
