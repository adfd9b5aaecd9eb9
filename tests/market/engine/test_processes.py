"""The engine as real OS processes (`quantdesk market engine`, `quantdesk serve`) against FMP's
real adapter and a local fake FMP that records every call it gets:

- ``kill -9`` of an engine mid-batch: its leases expire, the sweep of another process recovers
  the rows, and every queued call is still made and stored (none lost);
- four engine processes and two API processes (their own embedded engines, plus on-demand reads
  through the quota gate) never make more calls in a window than the provider allows, with and
  without Redis.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine.schemas import RefreshItem
from quantdesk.models import RefreshRequest
from tests.conftest import TEST_JWT_SECRET
from tests.factories import create_user, ensure_assets
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.jobs.live_server import free_port
from tests.market.engine.support import enqueue
from tests.market.providers.recordings import recorded_body
from tests.procs import ProcessGroup
from tests.redis_server import running_redis_server

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "quantdesk.cli.main"]
START_SECONDS = 40.0


def _profile(symbol: str) -> list[dict[str, object]]:
    (entry,) = recorded_body("fmp/profile_stable_AAPL.json")
    item = copy.deepcopy(entry)
    item["symbol"] = symbol
    return [item]


def _env(settings: Settings, fake: FakeHttpServer, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        QUANTDESK_ENVIRONMENT="test",
        QUANTDESK_DATABASE_URL=settings.resolved_database_url,
        QUANTDESK_DATA_DIR=str(data_dir),
        QUANTDESK_JWT_SECRET=TEST_JWT_SECRET,
        QUANTDESK_PROVIDERS="fmp",
        QUANTDESK_FMP_BASE_URL=fake.url,
        QUANTDESK_FMP_API_KEY="FMPKEY",
        QUANTDESK_FMP_TIMEOUT_SECONDS="5",
        QUANTDESK_LOG_LEVEL=os.environ.get("QD_TEST_LOG", "WARNING"),
        QUANTDESK_MARKET_ENGINE_POLL_SECONDS="0.2",
        QUANTDESK_MARKET_ENGINE_SWEEP_SECONDS="1",
    )
    env.update(extra)
    return env


@contextmanager
def _started(
    name: str, command: list[str], env: dict[str, str], tmp_path: Path
) -> Iterator[ProcessGroup]:
    process = ProcessGroup(tmp_path / f"{name}.log")
    process.spawn(command, cwd=ROOT, env=env)
    try:
        yield process
    finally:
        if process.alive and process.process is not None:
            process.process.terminate()
            try:
                process.process.wait(timeout=10)
            except Exception:
                process.kill()
        process.kill()


def _wait_for(check: object, what: str, processes: list[ProcessGroup], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        for process in processes:
            if not process.alive:
                raise AssertionError(f"a process exited:\n{process.tail(3000, missing='')}")
        time.sleep(0.1)
    logs = "\n".join(p.tail(1500, missing="") for p in processes)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


async def _statuses(db: Database) -> dict[str, RefreshRequest]:
    """The profile rows by symbol (the sweep also queues the scheduled exchange types)."""
    async with db.transaction(system=True, readonly=True) as session:
        rows = (await session.execute(select(RefreshRequest))).scalars().all()
    return {r.symbol: r for r in rows if r.data_type == "profile"}


async def test_kill_9_mid_batch_loses_no_call(
    edb: Database, settings: Settings, fake: FakeHttpServer, tmp_path: Path
) -> None:
    symbols = [f"K{i}" for i in range(6)]
    for symbol in symbols:
        fake.add(
            "/stable/profile", Reply(body=_profile(symbol), delay=30), query={"symbol": symbol}
        )
    await enqueue(edb, [RefreshItem(s, "profile", 30) for s in symbols], utcnow())
    env = _env(
        settings, fake, tmp_path / "data",
        QUANTDESK_MARKET_ENGINE_LEASE_SECONDS="3",
        QUANTDESK_MARKET_ENGINE_CALL_TIMEOUT_SECONDS="60",
    )  # fmt: skip
    with _started("doomed", [*CLI, "market", "engine"], env, tmp_path) as doomed:
        _wait_for(
            lambda: len(fake.requests("/stable/profile")) == len(symbols),
            "the doomed engine's calls", [doomed], START_SECONDS,
        )  # fmt: skip
        doomed.kill()  # mid-batch: every call in flight, every row held
    held = await _statuses(edb)
    assert {r.status for r in held.values()} == {"processing"}
    for symbol in symbols:  # the provider answers at once now
        fake.add("/stable/profile", Reply(body=_profile(symbol)), query={"symbol": symbol})
    with _started("survivor", [*CLI, "market", "engine"], env, tmp_path) as survivor:

        def all_done() -> bool:
            found = asyncio.run_coroutine_threadsafe(_statuses(edb), loop).result(10)
            return {r.status for r in found.values()} == {"completed"}

        loop = asyncio.get_running_loop()
        await asyncio.to_thread(_wait_for, all_done, "recovery", [survivor], START_SECONDS)
    done = await _statuses(edb)
    assert {r.attempts for r in done.values()} == {2}  # the interrupted attempt counted
    asked = [r.query["symbol"] for r in fake.requests("/stable/profile")]
    assert sorted(asked) == sorted(symbols * 2)  # each call made again, once


LIMIT = 4


@pytest.mark.parametrize("with_redis", [False, True], ids=["no-redis", "redis"])
async def test_six_processes_never_exceed_the_providers_window(
    edb: Database, settings: Settings, fake: FakeHttpServer, tmp_path: Path, with_redis: bool
) -> None:
    if with_redis and edb.kind == "sqlite":
        pytest.skip("scaled out (Redis) is tested on PostgreSQL; SQLite is the embedded mode")
    symbols = [f"Q{i:02d}" for i in range(30)]
    for symbol in symbols:
        fake.add("/stable/profile", Reply(body=_profile(symbol)), query={"symbol": symbol})
    fake.add("/stable/batch-quote", Reply(body=[]))
    await ensure_assets(edb, [(s, f"{s} Inc", "equity", None) for s in symbols])
    account = await create_user(edb, settings)
    await enqueue(edb, [RefreshItem(s, "profile", 30) for s in symbols], utcnow())
    with ExitStack() as stack:
        extra = {
            "QUANTDESK_FMP_REQUESTS_PER_MINUTE": str(LIMIT),
            "QUANTDESK_MARKET_ENGINE_WORKERS": "2",
            "QUANTDESK_MARKET_ENGINE_BATCH": "3",
        }
        if with_redis:
            redis = stack.enter_context(running_redis_server(tmp_path))
            extra["QUANTDESK_REDIS_URL"] = redis.url
        env = _env(settings, fake, tmp_path / "data", **extra)
        processes = [
            stack.enter_context(_started(f"engine{i}", [*CLI, "market", "engine"], env, tmp_path))
            for i in range(4)
        ]
        ports = [free_port(), free_port()]
        api_env = {**env, "QUANTDESK_MARKET_ENGINE_EMBEDDED": "true"}
        processes += [
            stack.enter_context(
                _started(
                    f"api{port}",
                    [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    api_env,
                    tmp_path,
                )
            )
            for port in ports
        ]
        for port in ports:
            await asyncio.to_thread(
                _wait_for, lambda p=port: _ready(p), f"serve on {port}", processes, START_SECONDS
            )
        # On-demand reads in both API processes ask FMP through the same ledger.
        async with httpx.AsyncClient(headers=account.headers, timeout=20) as client:
            answers = await asyncio.gather(
                *(
                    client.get(f"http://127.0.0.1:{ports[i % 2]}/api/v1/assets/{symbol}")
                    for i, symbol in enumerate(symbols[:10])
                )
            )
        assert {a.status_code for a in answers} == {200}
        await asyncio.sleep(3.0)  # every engine has had its rounds
        for process in processes:
            assert process.alive, process.tail(3000, missing="")
    calls = fake.requests()
    assert len(calls) == LIMIT, [(c.path, c.query.get("symbol")) for c in calls]
    assert max(c.at for c in calls) - min(c.at for c in calls) < 60


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def _first_data_frame(url: str, headers: dict[str, str], symbol: str) -> dict[str, object]:
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"action": "subscribe", "symbols": [symbol], "types": ["quote"]}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "data":
                return dict(frame)


async def test_a_value_the_engine_fetches_reaches_watchers_on_every_api_process(
    edb: Database, settings: Settings, fake: FakeHttpServer, tmp_path: Path
) -> None:
    """Presence (two API processes' WebSockets) -> the sweep -> a claim -> the provider -> the
    store -> Redis -> both processes' sockets; the engine runs in a process of its own."""
    if edb.kind == "sqlite":
        pytest.skip("scaled out (an engine process, Redis) is tested on PostgreSQL")
    account = await create_user(edb, settings)
    with ExitStack() as stack:
        redis = stack.enter_context(running_redis_server(tmp_path))
        env = _env(
            settings, fake, tmp_path / "data", QUANTDESK_PROVIDERS="sim",
            QUANTDESK_REDIS_URL=redis.url,
        )  # fmt: skip
        ports = [free_port(), free_port()]
        apis = [
            stack.enter_context(
                _started(
                    f"api{port}",
                    [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env,
                    tmp_path,
                )
            )
            for port in ports
        ]
        for port in ports:
            await asyncio.to_thread(
                _wait_for, lambda p=port: _ready(p), f"serve on {port}", apis, START_SECONDS
            )
        watchers = [
            asyncio.create_task(
                _first_data_frame(f"ws://127.0.0.1:{port}/ws/market", account.headers, "AAPL")
            )
            for port in ports
        ]
        await asyncio.sleep(0.5)  # both subscribed (presence rows written) before it starts
        engine = stack.enter_context(_started("engine", [*CLI, "market", "engine"], env, tmp_path))
        try:
            frames = await asyncio.wait_for(asyncio.gather(*watchers), START_SECONDS)
        except TimeoutError:
            raise AssertionError(engine.tail(3000, missing="")) from None
    for frame in frames:
        assert frame["symbol"] == "AAPL"
        assert frame["data_type"] == "quote"
        assert frame["source"] == "sim"  # simulated values are labelled wherever they go
        assert isinstance(frame["value"], dict)
        assert frame["value"]["price"]
    assert frames[0]["as_of"] == frames[1]["as_of"]  # one fetch, pushed to both processes
