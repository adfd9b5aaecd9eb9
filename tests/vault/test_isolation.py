"""Row-level security on PostgreSQL: every vault table shows each user only their own rows, even
to a query without an owner filter, and a row planted under another owner is refused."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.models import Vault
from tests.factories import Account
from tests.vault.helpers import API, fresh_folder, register_local, run_job, scan, write

TABLES = ("vaults", "vault_files", "vault_plans", "vault_moves")


async def test_vault_tables_are_owner_scoped_by_rls(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: Account, bob: Account
) -> None:
    if db.kind != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    for user in (alice, bob):
        root = fresh_folder(settings, "rls")
        write(root, {"inbox/a.md": b"a", "inbox/b.md": b"b"})
        vault = await register_local(client, user, root)
        await scan(client, user, vault["id"])
        await run_job(client, user, f"{API}/{vault['id']}/organize")
    for user in (alice, bob):
        async with db.transaction(user_id=user.user.id) as session:
            for table in TABLES:
                # No owner filter here: only the policy stands between the users' rows.
                rows = await session.execute(text(f"SELECT owner_id FROM {table}"))
                assert {r for (r,) in rows} == {user.user.id}, table
    async with db.transaction() as session:  # no user bound: nothing
        for table in TABLES:
            assert (await session.execute(text(f"SELECT 1 FROM {table}"))).all() == []
    async with db.transaction(user_id=bob.user.id) as session:
        session.add(Vault(owner_id=alice.user.id, name="planted", kind="local", root="/planted"))
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.flush()
