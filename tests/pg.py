"""A throwaway PostgreSQL database owned by an ordinary (non-superuser, RLS-bound) role."""

from __future__ import annotations

import os
import uuid

import psycopg
from psycopg import sql

ADMIN_DSN = os.environ.get(
    "QUANTDESK_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
APP_ROLE = "quantdesk_test_app"
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_available() -> bool:
    try:
        with psycopg.connect(ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def create_database(prefix: str = "qd_test") -> tuple[str, str]:
    """Create a fresh database owned by the app role; return (async URL, database name)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(
                    sql.Identifier(APP_ROLE)
                )
            )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(APP_ROLE)
            )
        )
    admin = psycopg.conninfo.conninfo_to_dict(ADMIN_DSN)
    host, port = admin.get("host", "127.0.0.1"), admin.get("port", "5432")
    return f"postgresql+asyncpg://{APP_ROLE}@{host}:{port}/{name}", name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
