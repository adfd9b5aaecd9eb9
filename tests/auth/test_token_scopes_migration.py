"""A token made before scopes existed keeps full access after the migration (SQLite; the
migration's server default is the same on PostgreSQL, whose round trip tests/test_migrations
covers)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from quantdesk.auth import scopes as token_scopes
from quantdesk.auth.dependencies import authenticate_principal, require_scope_for
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.migrations import run_migration
from quantdesk.kit.security import new_api_token

BEFORE_SCOPES = "c5e8a2d4f716"


async def test_a_token_from_before_scopes_keeps_full_access(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await run_migration(url, "upgrade", BEFORE_SCOPES)
    issued = new_api_token()
    user_id, token_id = uuid.uuid4(), uuid.uuid4()
    with sqlite3.connect(path) as old:
        old.execute(
            "INSERT INTO users (id, email, password_hash, is_active, created_at, updated_at) "
            "VALUES (?, 'old@example.com', 'x', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (user_id.hex,),
        )
        old.execute(
            "INSERT INTO api_tokens (id, owner_id, name, token_prefix, token_hash, created_at) "
            "VALUES (?, ?, 'old', ?, ?, '2026-01-01 00:00:00')",
            (token_id.hex, user_id.hex, issued.prefix, issued.digest),
        )

    await run_migration(url, "upgrade", "head")

    settings = Settings(environment="test", database_url=url, jwt_secret="s" * 64)  # type: ignore[arg-type]
    db = Database(settings)
    try:
        async with db.transaction() as session:
            principal = await authenticate_principal(session, settings, issued.secret)
    finally:
        await db.dispose()
    assert principal.token_id == token_id
    assert principal.scopes == token_scopes.FULL_ACCESS
    require_scope_for(principal, "DELETE")  # a write: allowed, no 403
