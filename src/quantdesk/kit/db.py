"""Engine, sessions and tenancy: one transaction per request or job, RLS context per transaction.

Three ways in, each with one purpose:

- ``Database.transaction(user_id=…)``: a session in one transaction bound to a user (PostgreSQL
  row-level security applies); ``system=True`` for background work that sees every owner's rows.
- ``Database.autocommit()``: a connection in the system context where every statement commits on
  its own; for the jobs machinery's single-statement bookkeeping (claim, heartbeat, finish), so
  each costs one round trip instead of BEGIN, set_config, statement, COMMIT.
- ``DbSession``: the request's transaction (a FastAPI dependency).

On PostgreSQL the system context comes from a second, small pool whose connections set
``app.system`` once per connection, so system transactions need no ``set_config`` round trip.
No pool pre-ping: a connection found dead raises once and SQLAlchemy then invalidates every
connection of the pool that is as old, so the next checkout reconnects (``pool_recycle`` renews
the rest).

On SQLite, transactions really begin at ``BEGIN`` (SQLAlchemy's documented recipe for pysqlite:
the driver's own implicit BEGIN before the first write is switched off), so a read-then-write
transaction sees one snapshot. Writing transactions take the write lock up front (``BEGIN
IMMEDIATE``): a deferred one that read first could not upgrade after another writer committed.
``readonly=True`` transactions use a deferred ``BEGIN`` and never wait for writers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from quantdesk.kit.config import Settings
from quantdesk.kit.logging import get_logger

_log = get_logger("quantdesk.db")
_AFTER_COMMIT = "quantdesk.after_commit"
# Execution options read by the SQLite "begin" hook below.
_SQLITE_BEGIN = "quantdesk_sqlite_begin"
_SQLITE_AUTOCOMMIT = "quantdesk_sqlite_autocommit"
POOL_RECYCLE_SECONDS = 1800


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not open transactions by itself: the "begin" hook does, explicitly.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A writer waits this long for the single write lock (a burst of orders): then a 503.
    cursor.execute("PRAGMA busy_timeout=15000")
    # A 64 MiB page cache and memory-mapped reads keep catalog search in single-digit ms.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    options = connection.get_execution_options()
    if options.get(_SQLITE_AUTOCOMMIT):
        return  # each statement is its own transaction
    connection.exec_driver_sql(f"BEGIN {options.get(_SQLITE_BEGIN, 'IMMEDIATE')}")


def _system_connection(dbapi_connection: Any, _record: Any) -> None:
    # Session level, once per connection of the system pool: its transactions see every owner.
    # On the raw asyncpg connection, outside any transaction (a rolled-back one would undo it).
    dbapi_connection.run_async(lambda raw: raw.execute("SET app.system = 'on'"))


def create_engine(url: str, *, echo: bool = False, system: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    size, overflow = (5, 10) if system else (10, 20)
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=size,
        max_overflow=overflow,
        pool_recycle=POOL_RECYCLE_SECONDS,
    )
    if system:
        event.listen(engine.sync_engine, "connect", _system_connection)
    return engine


class Database:
    """The engines and session factories of one process."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url
        self.kind = settings.database_kind
        self._echo = settings.database_echo
        self.engine = create_engine(self.url, echo=self._echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._system_engine: AsyncEngine | None = None
        self._system_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @property
    def system_engine(self) -> AsyncEngine:
        """PostgreSQL: the pool of system-context connections (built on first use); SQLite: the
        one engine (no row-level security there)."""
        if self.kind != "postgresql":
            return self.engine
        if self._system_engine is None:
            self._system_engine = create_engine(self.url, echo=self._echo, system=True)
        return self._system_engine

    def _maker(self, system: bool) -> async_sessionmaker[AsyncSession]:
        if not system or self.kind != "postgresql":
            return self.sessionmaker
        if self._system_sessionmaker is None:
            self._system_sessionmaker = async_sessionmaker(
                self.system_engine, expire_on_commit=False
            )
        return self._system_sessionmaker

    @asynccontextmanager
    async def transaction(
        self, *, user_id: uuid.UUID | None = None, system: bool = False, readonly: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        ``user_id`` binds it to a user (RLS); ``system`` lets it see every owner's rows (background
        work only). Callbacks registered with ``after_commit`` run once the commit has succeeded,
        and never after a rollback: a job asked for by a failed request is never sent.
        """
        async with self._maker(system)() as session:
            async with session.begin():
                if readonly and self.kind == "sqlite":
                    await session.connection(execution_options={_SQLITE_BEGIN: "DEFERRED"})
                if system:
                    session.info["system"] = True
                if user_id is not None:
                    await set_tenant(session, user_id)
                yield session
            await _run_after_commit(session)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A system-context connection on which every statement commits by itself.

        Only for single statements that are whole on their own (the jobs bookkeeping).
        """
        async with self.system_engine.connect() as connection:
            if self.kind == "sqlite":
                yield await connection.execution_options(**{_SQLITE_AUTOCOMMIT: True})
            else:
                yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    def pool_status(self) -> dict[str, int]:
        """Connections checked out now, per pool (for metrics and health)."""
        pools = {"main": self.engine}
        if self._system_engine is not None:
            pools["system"] = self._system_engine
        found: dict[str, int] = {}
        for name, engine in pools.items():
            usage = pool_usage(engine)
            found[name] = 0 if usage is None else usage[0]
        return found

    async def dispose(self) -> None:
        if self._system_engine is not None:
            await self._system_engine.dispose()
        await self.engine.dispose()


def pool_usage(engine: AsyncEngine) -> tuple[int, int] | None:
    """(checked out, size) of the engine's pool; None for pools without a fixed size (SQLite in
    memory, NullPool), which have nothing to report."""
    pool = engine.sync_engine.pool
    checkedout, size = getattr(pool, "checkedout", None), getattr(pool, "size", None)
    if callable(checkedout) and callable(size):
        return int(checkedout()), int(size())
    return None


async def _run_after_commit(session: AsyncSession) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            await callback()
        except Exception:
            # The transaction is committed; whatever the callback sends can be redone from the
            # database (executors resume pending work, caches refill), so log and go on.
            _log.exception("after_commit_callback_failed")


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` after this session's transaction commits (see ``Database.transaction``).

    The place for everything that must not outlive a rollback: sending jobs, writing caches,
    publishing events and files.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def dialect_name(session: AsyncSession | AsyncConnection) -> str:
    bind = session.get_bind() if isinstance(session, AsyncSession) else session
    return bind.dialect.name


def upsert_into(session: AsyncSession | AsyncConnection, table: Any) -> Any:
    """``INSERT`` into ``table`` in the session's dialect, so ``on_conflict_do_update`` /
    ``on_conflict_do_nothing`` are there (both engines spell them alike)."""
    dialect = postgresql if dialect_name(session) == "postgresql" else sqlite
    return dialect.insert(table)


async def set_tenant(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Bind the transaction to a user so PostgreSQL row-level security applies (no-op on SQLite)."""
    session.info["user_id"] = user_id
    if dialect_name(session) == "postgresql":
        await session.execute(
            text("SELECT set_config('app.user_id', :uid, true)"), {"uid": str(user_id)}
        )


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: the request's single transaction (use with ``scope="function"``).

    Reads (GET, HEAD) run in a read-only transaction: on SQLite they never wait for a writer.
    """
    readonly = request.method in _READ_METHODS
    async with get_database(request).transaction(readonly=readonly) as session:
        yield session


async def allow_token_lookup(session: AsyncSession, token_digest: str) -> None:
    """Let this transaction read the one API-token row whose digest it holds (RLS on PostgreSQL)."""
    if dialect_name(session) == "postgresql":
        await session.execute(
            text("SELECT set_config('app.token_hash', :digest, true)"), {"digest": token_digest}
        )


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def _request_database(request: Request) -> Database:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a hop per request
    return get_database(request)


Db = Annotated[Database, Depends(_request_database)]


async def limit_statement_time(session: AsyncSession, *, seconds: float) -> None:
    """PostgreSQL: statements of this transaction give up after ``seconds`` (no-op on SQLite);
    scrape-time probes bound themselves with it."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
