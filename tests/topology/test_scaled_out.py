"""The scaled-out topology on loopback, as the README's "Scaling out" section sets it up.

Real processes, each from its own empty directory with its own data directory: two
``quantdesk serve``, two ``quantdesk worker`` (default node names), one ``quantdesk beat``, one
``quantdesk market engine``, on a throwaway PostgreSQL database (an RLS-bound role, migrated by
``quantdesk db upgrade``) and a private redis-server (cache and event bus, login limits, broker:
one logical database each).
A third ``quantdesk serve`` trusts another proxy than the test client, for forwarded headers.

- A bulk validation asked through API 1 is watched to completion over API 2's WebSocket (worker
  events reach it through Redis); the worker holding its lease is killed with ``kill -9`` mid-job
  and the other one finishes it; every item's effect is committed exactly once.
- Login limits are one budget across both API processes (Redis storage).
- Behind a trusted proxy, ``X-Forwarded-For`` clients have separate per-IP limits; an untrusted
  one's header is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import string
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect

from tests import pg
from tests.deploy.support import readme_settings
from tests.redis_server import running_redis_server
from tests.topology.harness import (
    ApiProcess,
    QuantdeskProcess,
    WorkerProcess,
    environment,
    run_command,
)

LEASE_SECONDS = 2
PER_ACCOUNT = 3  # login attempts per account per minute
PER_IP = 6  # login attempts per client IP per minute (more than one account's budget)
BULK_SYMBOLS = 2500  # several seconds of batches of 10, long enough to kill a worker mid-way
JOB_TIMEOUT_SECONDS = 60.0
WATCH_GRACE_SECONDS = 20.0  # more than a WebSocket's 15 s re-read of a quiet operation
TRUSTED_PROXY = "127.0.0.1"  # the test client stands in for the load balancer
OTHER_PROXY = "192.0.2.1"  # a proxy that is not us (TEST-NET-1)
PASSWORD = "a long and correct passphrase"

# Every effect of a bulk validation's batch commits with its per-item result rows (one
# transaction with the checkpoint); this counts each committed write of an item's result, even
# one an upsert would have hidden, so a batch applied twice shows as a count of 2.
EFFECT_COUNTER = """
CREATE TABLE topology_effects (
    operation_id uuid NOT NULL, item integer NOT NULL, applied integer NOT NULL,
    PRIMARY KEY (operation_id, item));
CREATE FUNCTION count_topology_effect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO topology_effects VALUES (NEW.operation_id, NEW.item, 1)
    ON CONFLICT (operation_id, item) DO UPDATE SET applied = topology_effects.applied + 1;
    RETURN NEW;
END $$;
CREATE TRIGGER count_topology_effect BEFORE INSERT OR UPDATE ON operation_results
    FOR EACH ROW EXECUTE FUNCTION count_topology_effect();
"""

_client_ips = (f"198.51.100.{n}" for n in itertools.count(1))


def client_ip() -> str:
    """A client address of its own (TEST-NET-2), so no two checks share a per-IP budget."""
    return next(_client_ips)


def topology_settings(database_url: str, redis_port: int) -> dict[str, str]:
    """What every process of the topology is configured with (the README's settings)."""
    redis = f"redis://127.0.0.1:{redis_port}"
    return {
        "QUANTDESK_ENVIRONMENT": "production",
        "QUANTDESK_JWT_SECRET": secrets.token_urlsafe(48),
        "QUANTDESK_VAULT_SECRET_KEY": secrets.token_urlsafe(48),
        "QUANTDESK_DATABASE_URL": database_url,
        "QUANTDESK_REDIS_URL": f"{redis}/0",
        "QUANTDESK_RATE_LIMIT_STORAGE_URL": f"{redis}/1",
        "QUANTDESK_EXECUTOR": "celery",
        "QUANTDESK_CELERY_BROKER_URL": f"{redis}/2",
        "QUANTDESK_CELERY_CONFIG": "tests.topology.celery_config",
        "QUANTDESK_FORWARDED_ALLOW_IPS": TRUSTED_PROXY,
        "QUANTDESK_PROVIDERS": "sim",
        "QUANTDESK_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "QUANTDESK_LOGIN_RATE_LIMIT_PER_ACCOUNT": f"{PER_ACCOUNT}/minute",
        "QUANTDESK_LOGIN_RATE_LIMIT_PER_IP": f"{PER_IP}/minute",
        "QUANTDESK_LOG_LEVEL": "INFO",
    }


@dataclass
class Topology:
    api1: ApiProcess
    api2: ApiProcess
    untrusted: ApiProcess  # trusts only OTHER_PROXY's forwarded headers
    workers: list[WorkerProcess]
    beat: QuantdeskProcess
    engine: QuantdeskProcess  # the market-data refresh engine
    database_dsn: str  # the throwaway database, as its owner (the app role)
    killed: list[QuantdeskProcess] = field(default_factory=list)

    @property
    def processes(self) -> list[QuantdeskProcess]:
        return [self.api1, self.api2, self.untrusted, *self.workers, self.beat, self.engine]

    def check_alive(self) -> None:
        """Every process this test has not killed itself is still running."""
        for process in self.processes:
            if process not in self.killed:
                process.check_alive()

    def logs(self) -> str:
        return "\n\n".join(f"== {p.name}: {p.describe()}" for p in self.processes)


def _require_postgres() -> None:
    if not pg.postgres_available():
        if pg.IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {pg.ADMIN_DSN} and CI=true")
        pytest.skip("PostgreSQL is not reachable")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    _require_postgres()
    home: Path = tmp_path_factory.mktemp("topology")
    with running_redis_server(home) as redis:
        database_url, database_name = pg.create_database("qd_topology")
        processes: list[QuantdeskProcess] = []
        try:
            env = environment(topology_settings(database_url, redis.port))
            run_command("migrate", ["db", "upgrade"], env, home)
            owner_dsn = psycopg.conninfo.make_conninfo(
                pg.ADMIN_DSN, dbname=database_name, user=pg.APP_ROLE
            )
            with psycopg.connect(owner_dsn, autocommit=True) as conn:
                conn.execute(EFFECT_COUNTER)
            topology = Topology(
                api1=ApiProcess("api-1", env, home),
                api2=ApiProcess("api-2", env, home),
                untrusted=ApiProcess(
                    "api-untrusted", env, home, ["--forwarded-allow-ips", OTHER_PROXY]
                ),
                workers=[
                    WorkerProcess(f"worker-{n}", ["worker", "--concurrency", "1"], env, home)
                    for n in (1, 2)
                ],
                beat=QuantdeskProcess("beat", ["beat"], env, home),
                engine=QuantdeskProcess(
                    "market-engine", ["market", "engine", "--workers", "2"], env, home
                ),
                database_dsn=owner_dsn,
            )
            processes = topology.processes
            for process in processes:
                process.start()
            for api in (topology.api1, topology.api2, topology.untrusted):
                api.wait_ready()
            yield topology
        finally:
            for process in processes:
                process.terminate()  # all at once: each warm shutdown takes a moment
            for process in processes:
                process.stop()
            pg.drop_database(database_name)


# --- helpers --------------------------------------------------------------------------------


def login(
    api: ApiProcess, email: str, password: str, *, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.post(
        f"{api.url}/api/v1/auth/login",
        json={"email": email, "password": password},
        headers=headers,
        timeout=10,
    )


def signup_and_login(topology: Topology) -> str:
    """A new account (signed up on API 1, logged in on API 2); its access token."""
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    created = httpx.post(
        f"{topology.api1.url}/api/v1/auth/signup",
        json={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": client_ip()},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    logged_in = login(topology.api2, email, PASSWORD, forwarded_for=client_ip())
    assert logged_in.status_code == 200, logged_in.text
    token: str = logged_in.json()["data"]["access_token"]
    return token


def bulk_symbols(count: int) -> list[str]:
    letters = string.ascii_uppercase
    return [
        "Q" + "".join(chars)
        for chars in itertools.islice(itertools.product(letters, repeat=3), count)
    ]


async def lease_of(conn: psycopg.AsyncConnection[Any], operation_id: str) -> tuple[Any, ...]:
    """(status, progress_done, lease_owner) of the operation, seen past row-level security."""
    cursor = await conn.execute(
        "SELECT status, progress_done, lease_owner FROM operations WHERE id = %s",
        (operation_id,),
    )
    row = await cursor.fetchone()
    assert row is not None, f"operation {operation_id} is not in the database"
    return tuple(row)


async def watch(url: str, token: str) -> list[dict[str, Any]]:
    """Every frame of the operation's WebSocket until the server closes it."""
    frames: list[dict[str, Any]] = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        async for raw in ws:
            frames.append(json.loads(raw))
    return frames


async def system_connection(dsn: str) -> psycopg.AsyncConnection[Any]:
    """The app role in the system context (app.system), as workers' bookkeeping connects."""
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await conn.execute("SET app.system = 'on'")
    return conn


# --- the tests ------------------------------------------------------------------------------


def test_the_readme_configuration_table_has_every_setting_used_here() -> None:
    """Followed literally, the README names every setting this topology needs."""
    used = set(topology_settings("postgresql+asyncpg://…", 6379))

    assert used - readme_settings() == set()


def test_each_worker_is_its_own_node(topology: Topology) -> None:
    """Two `quantdesk worker` without --name on one host: two nodes, seen by both API processes."""
    expected = {f"quantdesk-{worker.pid}@" for worker in topology.workers}
    nodes: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topology.check_alive()
        answer = httpx.get(f"{topology.api2.url}/health/workers", timeout=10)
        assert answer.status_code == 200, answer.text
        nodes = [worker["id"] for worker in answer.json()["data"]["workers"]]
        if len(nodes) == len(topology.workers):
            break
        time.sleep(0.5)

    assert len(nodes) == len(set(nodes)) == 2, f"nodes {nodes}\n{topology.logs()}"
    assert {node.split("@")[0] + "@" for node in nodes} == expected


async def test_bulk_job_survives_the_kill_of_its_worker(topology: Topology) -> None:
    token = await asyncio.to_thread(signup_and_login, topology)
    symbols = bulk_symbols(BULK_SYMBOLS)
    total_batches = -(-len(symbols) // 10)

    async with httpx.AsyncClient(timeout=30) as client:
        requested = await client.post(
            f"{topology.api1.url}/api/v1/assets/validate/bulk",
            json={"symbols": symbols},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert requested.status_code == 202, requested.text
    operation_id = requested.json()["data"]["id"]
    watcher = asyncio.create_task(
        watch(f"{topology.api2.ws_url}/ws/operations/{operation_id}", token)
    )
    conn = await system_connection(topology.database_dsn)
    try:
        # Mid-job: running, some batches committed, many to go. Kill the node holding the lease.
        victim: WorkerProcess | None = None
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while victim is None:
            assert time.monotonic() < deadline, f"the job never ran\n{topology.logs()}"
            topology.check_alive()
            status, done, owner = await lease_of(conn, operation_id)
            assert status in ("pending", "running"), (status, done, topology.logs())
            if status == "running" and done >= len(symbols) // 10 and owner:
                victim = next((w for w in topology.workers if w.owns_lease(owner)), None)
                assert victim is not None, f"lease {owner!r} held by no worker we started"
            await asyncio.sleep(0.05)
        victim.kill()
        topology.killed.append(victim)
        status, done_at_kill, _ = await lease_of(conn, operation_id)
        mid_way = status == "running" and done_at_kill < len(symbols)
        assert mid_way, f"the job was not mid-way when its worker died: {status} {done_at_kill}"
        survivor = next(w for w in topology.workers if w is not victim)

        # The survivor takes it over (lease expiry: broker redelivery or beat's sweep).
        owners_after: list[str] = []  # each lease holder seen, in order
        while True:
            assert time.monotonic() < deadline, (
                f"not finished after the kill; {survivor.describe()}\n{topology.logs()}"
            )
            topology.check_alive()
            status, _, owner = await lease_of(conn, operation_id)
            if owner and owner not in owners_after:
                owners_after.append(owner)
            if status not in ("pending", "running"):
                break
            await asyncio.sleep(0.1)
        try:
            frames = await asyncio.wait_for(watcher, timeout=WATCH_GRACE_SECONDS)
        except TimeoutError:
            raise AssertionError(
                f"API 2's WebSocket still open {WATCH_GRACE_SECONDS} s after the job ended\n"
                f"{topology.logs()}"
            ) from None

        cursor = await conn.execute(
            "SELECT item, applied FROM topology_effects WHERE operation_id = %s ORDER BY item",
            (operation_id,),
        )
        applied = dict(await cursor.fetchall())
    finally:
        if not watcher.done():
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        await conn.close()

    final = frames[-1]
    operation = final["operation"]
    assert final["type"] == "completed", f"{final}\n{topology.logs()}"
    assert operation["status"] == "succeeded"
    assert operation["result"]["done"] == len(symbols)
    assert operation["attempts"] == 2  # the killed run and the survivor's
    # The watcher on API 2 saw the workers' progress as it happened (the Redis bus), not only
    # the re-reads it makes after 15 quiet seconds.
    progress = sorted({frame["operation"]["progress"]["done"] for frame in frames})
    assert len(progress) >= min(10, total_batches), f"API 2 heard no worker: {progress}"
    assert any(done > done_at_kill for done in progress)
    # The dead node's lease until it expired, then the survivor's.
    assert owners_after, "no lease holder seen after the kill"
    assert survivor.owns_lease(owners_after[-1]), owners_after
    assert all(victim.owns_lease(o) for o in owners_after[:-1]), owners_after
    # Exactly once: every item committed one effect, none twice, none missing.
    assert sorted(applied) == list(range(len(symbols)))
    assert {item: n for item, n in applied.items() if n != 1} == {}


def test_login_limits_are_shared_between_api_processes(topology: Topology) -> None:
    """Wrong passwords alternately on API 1 and 2: the account's budget is spent once, in total."""
    email = f"target-{uuid.uuid4().hex[:8]}@example.com"
    ip = client_ip()
    statuses = []
    for attempt in range(PER_ACCOUNT + 1):
        api = (topology.api1, topology.api2)[attempt % 2]
        answer = login(api, email, "wrong password", forwarded_for=ip)
        statuses.append(answer.status_code)
    topology.check_alive()

    # In memory, each process would allow PER_ACCOUNT on its own: no 429 at this count.
    assert statuses == [401] * PER_ACCOUNT + [429], f"{statuses}\n{topology.logs()}"
    assert int(answer.headers["Retry-After"]) > 0


def test_trusted_proxy_forwards_each_client_s_address(topology: Topology) -> None:
    first, second = client_ip(), client_ip()
    statuses = []
    for attempt in range(PER_IP + 1):
        api = (topology.api1, topology.api2)[attempt % 2]
        email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"  # no account budget in the way
        statuses.append(login(api, email, "wrong password", forwarded_for=first).status_code)

    other = login(topology.api1, "someone@example.com", "wrong password", forwarded_for=second)

    assert statuses == [401] * PER_IP + [429], statuses
    assert other.status_code == 401, "a second client behind the proxy shares the first's limit"


def test_untrusted_proxy_s_forwarded_header_is_ignored(topology: Topology) -> None:
    """A process that trusts another proxy counts every request as the direct peer's."""
    statuses: list[int] = []
    while not statuses or statuses[-1] != 429:
        assert len(statuses) <= PER_IP, f"no limit after {statuses}"
        email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        answer = login(topology.untrusted, email, "wrong password", forwarded_for=client_ip())
        statuses.append(answer.status_code)

    fresh = client_ip()
    via_untrusted = login(
        topology.untrusted, "a@example.com", "wrong password", forwarded_for=fresh
    )
    via_trusted = login(topology.api1, "b@example.com", "wrong password", forwarded_for=fresh)

    assert via_untrusted.status_code == 429  # counted as 127.0.0.1, whose budget is spent
    assert via_trusted.status_code == 401  # the same header through the trusted proxy: its own


async def test_a_quote_watched_on_one_api_process_is_fetched_by_the_engine_and_pushed(
    topology: Topology,
) -> None:
    """The README's scaled-out market data: a WebSocket watcher on API 2, the refresh engine in
    a process of its own, the value back through Redis, under row-level security."""
    token = signup_and_login(topology)
    url = f"{topology.api2.url.replace('http', 'ws', 1)}/ws/market"
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"action": "subscribe", "symbols": ["MSFT"], "types": ["quote"]}))

        async def first_data() -> dict[str, Any]:
            async for raw in ws:
                frame: dict[str, Any] = json.loads(raw)
                if frame.get("type") == "data":
                    return frame
            raise AssertionError("the connection closed before any value came")

        try:
            frame = await asyncio.wait_for(first_data(), 30)
        except TimeoutError:
            raise AssertionError(topology.logs()) from None
    assert (frame["symbol"], frame["data_type"], frame["source"]) == ("MSFT", "quote", "sim")
    topology.check_alive()
