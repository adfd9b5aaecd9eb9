"""An S3 vault end to end against a moto server over HTTP: registered with credentials (an
allowed http endpoint), files uploaded and downloaded, scanned, de-duplicated, organised and
rolled back, all through the API and its jobs."""

from __future__ import annotations

import uuid

import boto3
import httpx
import pytest
import xxhash

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from tests.factories import Account, ensure_assets
from tests.vault.helpers import API, PDF, files, run_job, scan
from tests.vault.s3_server import ACCESS_KEY, SECRET_KEY, S3Server


def _objects(server: S3Server, bucket: str) -> dict[str, str]:
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"]] = xxhash.xxh3_128(body).hexdigest()
    return found


async def test_s3_vault_through_the_api(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: Account,
    bob: Account,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await ensure_assets(db)
    bucket = s3_server.new_bucket()
    body = {
        "name": f"s3-{uuid.uuid4().hex[:6]}",
        "kind": "s3",
        "bucket": bucket,
        "prefix": "desk",
        "endpoint_url": s3_server.endpoint_url,
        "region": "us-east-1",
        "credentials": {"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY},
    }
    refused = await client.post(API, json=body, headers=alice.headers)
    assert refused.status_code == 422  # plain http to 127.0.0.1: not unless the admin allows it
    monkeypatch.setattr(settings, "vault_allowed_endpoints", [s3_server.endpoint_url])
    created = await client.post(API, json=body, headers=alice.headers)
    assert created.status_code == 201, created.text
    vault_id = created.json()["data"]["id"]
    assert SECRET_KEY not in created.text

    uploads = {
        "inbox/AAPL_10-K_2023.pdf": PDF,
        "inbox/copy of AAPL 10-K.pdf": PDF,
        "inbox/notes.md": b"# notes\n",
    }
    for path, content in uploads.items():
        response = await client.put(
            f"{API}/{vault_id}/files/{path}", content=content, headers=alice.headers
        )
        assert response.status_code == 201, response.text
    download = await client.get(f"{API}/{vault_id}/files/inbox/notes.md", headers=alice.headers)
    assert download.content == b"# notes\n"
    assert (
        await client.get(f"{API}/{vault_id}/files/inbox/notes.md", headers=bob.headers)
    ).status_code == 404
    assert set(_objects(s3_server, bucket)) == {f"desk/{p}" for p in uploads}

    first = await scan(client, alice, vault_id)
    assert first["counts"]["new"] == 3
    listed = {f["path"]: f for f in await files(client, alice, vault_id)}
    assert listed["inbox/AAPL_10-K_2023.pdf"]["inode"] is None
    assert listed["inbox/AAPL_10-K_2023.pdf"]["mime"] == "application/pdf"
    assert listed["inbox/AAPL_10-K_2023.pdf"]["symbol"] == "AAPL"
    assert (await scan(client, alice, vault_id))["read"] == 0

    dupes = await run_job(client, alice, f"{API}/{vault_id}/duplicates")
    assert dupes["counts"]["groups"] == 1
    assert dupes["reclaimable_bytes"] == len(PDF)

    before = _objects(s3_server, bucket)
    planned = await run_job(client, alice, f"{API}/{vault_id}/organize", {"conflict": "rename_new"})
    plan_path = planned["plan_url"].removeprefix("/api/v1")
    plan = (await client.get(f"/api/v1{plan_path}", headers=alice.headers)).json()["data"]
    targets = {m["src"]: m["dst"] for m in plan["moves"]}
    assert targets["inbox/AAPL_10-K_2023.pdf"] == "filings/AAPL/2023/AAPL_10-K_2023.pdf"
    applied = await run_job(client, alice, f"/api/v1{plan_path}/apply")
    assert applied["counts"] == {"done": len(targets)}
    moved = _objects(s3_server, bucket)
    assert "desk/filings/AAPL/2023/AAPL_10-K_2023.pdf" in moved
    assert sorted(moved.values()) == sorted(before.values())
    await run_job(client, alice, f"/api/v1/operations/{applied['_operation_id']}/rollback")
    assert _objects(s3_server, bucket) == before
