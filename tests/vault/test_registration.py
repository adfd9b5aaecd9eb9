"""Registering vaults: roots only inside the allowed folders and never overlapping another user's
vault (fuzzed: no escape), https-only endpoints, credentials encrypted and never shown, another
user's vault a 404, bad input a 422 naming the field."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.errors import InvalidInput
from quantdesk.models import Vault
from quantdesk.vault import crypto
from quantdesk.vault.access import check_endpoint, resolve_local_root
from tests.factories import Account
from tests.vault.helpers import API, allowed_root, fresh_folder, register_local


def _field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["success"] is False
    return str(body["error"]["details"][0]["field"]).split(".")[-1]


async def test_register_list_get_delete_and_isolation(
    client: httpx.AsyncClient, settings: Settings, alice: Account, bob: Account
) -> None:
    root = fresh_folder(settings)
    vault = await register_local(client, alice, root, name="Research")
    assert vault["root"] == str(root)
    assert vault["has_credentials"] is False
    listed = (await client.get(API, headers=alice.headers)).json()["data"]["items"]
    assert [v["id"] for v in listed] == [vault["id"]]
    assert (await client.get(API, headers=bob.headers)).json()["data"]["items"] == []
    for method, path in (
        ("GET", f"{API}/{vault['id']}"),
        ("DELETE", f"{API}/{vault['id']}"),
        ("GET", f"{API}/{vault['id']}/files"),
        ("GET", f"{API}/{vault['id']}/files/x.txt"),
        ("PUT", f"{API}/{vault['id']}/files/x.txt"),
        ("POST", f"{API}/{vault['id']}/scan"),
        ("GET", f"{API}/{vault['id']}/duplicates"),
    ):
        response = await client.request(method, path, headers=bob.headers, content=b"x")
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "vault_not_found"
    assert not (root / "x.txt").exists()
    duplicate = await client.post(
        API, json={"name": "Research", "kind": "local", "root": str(root / "sub")},
        headers=alice.headers,
    )  # fmt: skip
    assert duplicate.status_code == 409
    deleted = await client.delete(f"{API}/{vault['id']}", headers=alice.headers)
    assert deleted.status_code == 200
    assert (await client.get(f"{API}/{vault['id']}", headers=alice.headers)).status_code == 404


async def test_relative_roots_are_made_inside_the_allowed_root(
    client: httpx.AsyncClient, settings: Settings, alice: Account
) -> None:
    name = f"alice-{uuid.uuid4().hex[:6]}/research"
    vault = await register_local(client, alice, name)
    assert vault["root"] == str(allowed_root(settings) / name)
    assert (allowed_root(settings) / name).is_dir()


async def test_roots_that_reach_out_are_422_on_root(
    client: httpx.AsyncClient, settings: Settings, alice: Account, bob: Account, tmp_path: Path
) -> None:
    bobs = fresh_folder(settings, "bob")
    await register_local(client, bob, bobs)
    link = allowed_root(settings) / f"link-{uuid.uuid4().hex[:6]}"
    os.symlink(tmp_path, link)
    for root in (
        "/",
        "/etc",
        str(tmp_path),
        str(allowed_root(settings)),  # the allowed root itself holds everyone's vaults
        str(allowed_root(settings) / ".." / "x"),
        "../escape",
        "a/../../b",
        str(bobs),  # another user's vault
        str(bobs / "inside"),
        str(bobs.parent),  # above it: the allowed root again
        str(link),  # a link out of the allowed root
        "",
        "x\x01y",
    ):
        body = {"name": "Mine", "kind": "local", "root": root}
        response = await client.post(API, json=body, headers=alice.headers)
        assert _field(response) == "root", (root, response.text)
    assert os.listdir(tmp_path) == []
    above = fresh_folder(settings, "above")
    await register_local(client, bob, above / "deep" / "vault")
    response = await client.post(
        API, json={"name": "Mine", "kind": "local", "root": str(above)}, headers=alice.headers
    )
    assert _field(response) == "root"


async def test_other_422s_name_their_field(client: httpx.AsyncClient, alice: Account) -> None:
    cases = [
        ({"name": "x", "kind": "ftp", "root": "a"}, "kind"),
        ({"name": "", "kind": "local", "root": "a"}, "name"),
        ({"name": "x", "kind": "s3"}, "bucket"),
        ({"name": "x", "kind": "s3", "bucket": "Bad_Bucket"}, "bucket"),
        ({"name": "x", "kind": "local", "root": "a", "bucket": "abc"}, "bucket"),
        ({"name": "x", "kind": "s3", "bucket": "abc", "root": "a"}, "root"),
        ({"name": "x", "kind": "s3", "bucket": "abc", "endpoint_url": "http://minio:9000"},
         "endpoint_url"),
        ({"name": "x", "kind": "s3", "bucket": "abc",
          "endpoint_url": "https://169.254.169.254/latest"}, "endpoint_url"),
        ({"name": "x", "kind": "s3", "bucket": "abc", "endpoint_url": "https://10.1.2.3"},
         "endpoint_url"),
        ({"name": "x", "kind": "s3", "bucket": "abc", "endpoint_url": "https://localhost"},
         "endpoint_url"),
        ({"name": "x", "kind": "s3", "bucket": "abc", "endpoint_url": "file:///etc/passwd"},
         "endpoint_url"),
        ({"name": "x", "kind": "s3", "bucket": "abc", "prefix": "../up"}, "prefix"),
        ({"name": "x", "kind": "local", "root": "a",
          "rules": {"rules": [{"name": "r", "category": "x", "target": "{oops}"}]}}, "target"),
        ({"name": "x", "kind": "local", "root": "a",
          "rules": {"rules": [{"name": "r", "category": "x", "match": {"name_regex": "("}}]}},
         "name_regex"),
    ]  # fmt: skip
    for body, field in cases:
        response = await client.post(API, json=body, headers=alice.headers)
        assert _field(response) == field, (body, response.text)


async def test_credentials_are_encrypted_and_never_returned(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "vault_allowed_endpoints", ["http://127.0.0.1:1"])
    secret = f"very-secret-{uuid.uuid4().hex}"
    body = {
        "name": "bucket",
        "kind": "s3",
        "bucket": "my-bucket",
        "prefix": "research/",
        "endpoint_url": "http://127.0.0.1:1",
        "region": "us-east-1",
        "credentials": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": secret},
    }
    created = await client.post(API, json=body, headers=alice.headers)
    assert created.status_code == 201, created.text
    vault_id = created.json()["data"]["id"]
    answers = [
        created,
        await client.get(API, headers=alice.headers),
        await client.get(f"{API}/{vault_id}", headers=alice.headers),
        await client.get("/openapi.json"),
    ]
    for answer in answers:
        assert secret not in answer.text
        assert "AKIAEXAMPLE" not in answer.text
    assert created.json()["data"]["has_credentials"] is True
    async with db.transaction(user_id=alice.user.id) as session:
        row = (
            await session.execute(select(Vault).where(Vault.id == uuid.UUID(vault_id)))
        ).scalar_one()
    assert row.credentials is not None
    assert secret not in row.credentials
    assert crypto.decrypt(settings, row.credentials)["secret_access_key"] == secret


def test_allowed_endpoints_match_whole_prefixes() -> None:
    allowed = ["http://127.0.0.1:9000", "https://minio.internal/"]
    assert check_endpoint("http://127.0.0.1:9000", allowed=allowed)
    assert check_endpoint("http://127.0.0.1:9000/bucket", allowed=allowed)
    assert check_endpoint("https://minio.internal/x", allowed=allowed)
    assert check_endpoint("https://s3.eu-west-1.amazonaws.com", allowed=allowed)
    assert check_endpoint("https://abc.r2.cloudflarestorage.com", allowed=allowed)
    for url in ("http://127.0.0.1:90001", "http://127.0.0.1:9000@evil.com", "http://s3.aws.com"):
        with pytest.raises(InvalidInput):
            check_endpoint(url, allowed=allowed)


_PARTS = st.sampled_from(
    ["..", ".", "", "/", "vaults", "bob", "alice", "link", "etc", "x", "~", "\x00", "%2e%2e", "//"]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(st.one_of(_PARTS, st.text(max_size=5)), min_size=1, max_size=7),
       absolute=st.booleans())  # fmt: skip
def test_fuzzed_roots_never_escape(tmp_path: Path, parts: list[str], absolute: bool) -> None:
    """Whatever the root asked for, an accepted one lies strictly inside an allowed root and
    neither in, at nor above another user's vault."""
    base = tmp_path / "fuzz"
    allowed = base / "vaults"
    bob = allowed / "bob"
    if not base.exists():
        bob.mkdir(parents=True)
        (base / "etc").mkdir()
        os.symlink(base / "etc", allowed / "link")
    raw = "/".join(parts)
    if absolute:
        raw = str(allowed) + "/" + raw
    real_allowed = [Path(os.path.realpath(allowed))]
    try:
        root = resolve_local_root(raw, allowed=real_allowed, others=[str(bob)])
    except InvalidInput:
        return
    assert root.is_absolute()
    assert Path(os.path.realpath(root)) == root
    assert root != real_allowed[0]
    assert root.is_relative_to(real_allowed[0])
    assert not root.is_relative_to(bob)
    assert not bob.is_relative_to(root)


def test_allowed_roots_and_endpoints_settings(tmp_path: Path) -> None:
    def make(**kwargs: str) -> Settings:
        return Settings(_env_file=None, data_dir=tmp_path, **kwargs)  # type: ignore[arg-type]

    assert make().resolved_vault_allowed_roots == [tmp_path.resolve() / "vaults"]
    comma = make(vault_allowed_roots="shared, /srv/vaults")
    assert comma.resolved_vault_allowed_roots == [
        tmp_path.resolve() / "shared",
        Path("/srv/vaults"),
    ]
    as_json = make(vault_allowed_roots='["/srv/a", "/srv/b"]')
    assert as_json.resolved_vault_allowed_roots == [Path("/srv/a"), Path("/srv/b")]
    endpoints = make(vault_allowed_endpoints="http://127.0.0.1:9000,http://minio:9000")
    assert endpoints.vault_allowed_endpoints == ["http://127.0.0.1:9000", "http://minio:9000"]
