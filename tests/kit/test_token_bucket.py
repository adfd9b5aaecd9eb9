"""Token buckets: the arithmetic, the Redis-shared budget across real processes, the fallback."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantdesk.kit.token_bucket import TokenBucketLimiter
from tests.redis_server import RedisServer, logs_through_stdlib, running_redis_server


class FakeClock:
    """A clock the test moves by hand (test input for the in-process bucket)."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def redis_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with logs_through_stdlib():
        caplog.set_level(logging.INFO, logger="quantdesk.redis")
        yield caplog


async def test_local_bucket_bursts_to_capacity_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(None, clock=clock)
    bucket = {"rate_per_second": 2.0, "capacity": 3.0}

    assert [await limiter.try_acquire("fmp", **bucket) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await limiter.try_acquire("fmp", **bucket) == pytest.approx(0.5)
    clock.now += 0.25
    assert await limiter.try_acquire("fmp", **bucket) == pytest.approx(0.25)  # nothing taken
    clock.now += 0.25
    assert await limiter.try_acquire("fmp", **bucket) == 0.0
    assert await limiter.try_acquire("fmp", **bucket, tokens=2) == pytest.approx(1.0)

    clock.now += 60  # refilling stops at capacity
    state = await limiter.state("fmp", **bucket)
    assert state["tokens"] == 3.0
    assert state["backend"] == "local"
    assert [await limiter.try_acquire("fmp", **bucket) for _ in range(4)][-1] == pytest.approx(0.5)
    # Buckets are per key.
    assert await limiter.try_acquire("yahoo", **bucket) == 0.0


async def test_impossible_requests_are_refused() -> None:
    limiter = TokenBucketLimiter(None)
    with pytest.raises(ValueError, match="tokens"):
        await limiter.try_acquire("k", rate_per_second=1, capacity=2, tokens=3)
    with pytest.raises(ValueError, match="rate"):
        await limiter.try_acquire("k", rate_per_second=0, capacity=2)


async def test_redis_bucket_is_one_budget_for_two_limiters(redis_server: RedisServer) -> None:
    first, second = TokenBucketLimiter(redis_server.url), TokenBucketLimiter(redis_server.url)
    key = f"alphavantage-{uuid.uuid4().hex}"
    bucket = {"rate_per_second": 0.5, "capacity": 3.0}
    try:
        assert await first.try_acquire(key, **bucket) == 0.0
        assert await second.try_acquire(key, **bucket) == 0.0
        assert await first.try_acquire(key, **bucket) == 0.0
        wait = await second.try_acquire(key, **bucket)
        assert 1.9 < wait <= 2.0  # one token at 0.5/s, minus the few ms the calls took
        assert await first.try_acquire(key, **bucket) > 1.9

        state = await second.state(key, **bucket)
        assert state["backend"] == "redis"
        assert state["tokens"] < 0.1
        assert state["capacity"] == 3.0
        assert state["redis"]["errors"] == 0
    finally:
        await first.aclose()
        await second.aclose()


# Each worker process hammers one key until the deadline and prints when its grants happened:
# (wall time before the call, wall time after it), so the server's grant time lies in between.
WORKER = """
import asyncio, json, sys, time
from quantdesk.kit.token_bucket import TokenBucketLimiter

async def main(url, key, rate, capacity, start_at, duration):
    limiter = TokenBucketLimiter(url)
    await limiter.state(key + "-warmup", rate_per_second=rate, capacity=capacity)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    grants, denials = [], 0
    while time.time() < start_at + duration:
        before = time.time()
        wait = await limiter.try_acquire(key, rate_per_second=rate, capacity=capacity)
        after = time.time()
        if wait == 0.0:
            grants.append((before, after))
        else:
            denials += 1
            await asyncio.sleep(min(wait, 0.05))
    state = await limiter.state(key, rate_per_second=rate, capacity=capacity)
    await limiter.aclose()
    print(json.dumps({"grants": grants, "denials": denials, "redis": state["redis"]}))

url, key = sys.argv[1], sys.argv[2]
asyncio.run(main(url, key, float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]),
                 float(sys.argv[6])))
"""


async def run_worker(args: list[str]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    # The result is the last line (unconfigured structlog would print a warning before it).
    result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return result


async def test_rate_limit_shared_across_two_processes_never_exceeds_it(
    redis_server: RedisServer,
) -> None:
    """Rate limit shared across two processes against a real Redis: together they never
    exceed it."""
    rate, capacity, duration = 30.0, 5.0, 2.5
    key = f"coingecko-{uuid.uuid4().hex}"
    start_at = time.time() + 1.5  # both interpreters are up and connected by then
    args = [redis_server.url, key, str(rate), str(capacity), str(start_at), str(duration)]
    results = await asyncio.gather(run_worker(args), run_worker(args))

    for result in results:
        assert result["redis"]["errors"] == 0  # each really used the shared bucket
        assert result["grants"], "a process was starved"
        assert result["denials"] > 0  # each was held back
    grants = sorted((before, after) for result in results for before, after in result["grants"])
    t0 = min(before for before, _ in grants)  # no grant, and no bucket, before this
    epsilon = 0.01  # float rounding of microsecond timestamps

    # Every prefix of time: count(grants <= t) <= capacity + rate * (t - t0).
    afters = sorted(after for _, after in grants)
    for count, t in enumerate(afters, start=1):
        assert count <= capacity + rate * (t - t0) + epsilon, (count, t - t0)

    # Every window [s, t]: the grants certainly inside it (called after s, answered before t).
    befores = sorted(before for before, _ in grants)
    for s in befores:
        for t in afters:
            if t <= s:
                continue
            inside = sum(1 for before, after in grants if before >= s and after <= t)
            assert inside <= capacity + rate * (t - s) + epsilon, (inside, s - t0, t - s)

    # Together they used the budget rather than starving each other.
    elapsed = afters[-1] - t0
    budget = capacity + rate * elapsed
    assert len(grants) >= 0.85 * budget, (len(grants), budget)
    assert min(len(result["grants"]) for result in results) >= 0.15 * len(grants)


async def test_redis_down_falls_back_to_local_limiting_with_one_warning(
    redis_server: RedisServer, redis_logs: pytest.LogCaptureFixture
) -> None:
    limiter = TokenBucketLimiter(redis_server.url)
    key = f"yahoo-{uuid.uuid4().hex}"
    bucket = {"rate_per_second": 0.2, "capacity": 3.0}
    try:
        assert (await limiter.state(key, **bucket))["backend"] == "redis"
        redis_server.stop()

        started = time.perf_counter()
        granted = [await limiter.try_acquire(key, **bucket) for _ in range(50)]
        assert time.perf_counter() - started < 0.5  # no call waits on the dead server
        assert granted[:3] == [0.0, 0.0, 0.0]
        assert all(4.5 < wait <= 5.0 for wait in granted[3:])  # still limited, locally
        assert (await limiter.state(key, **bucket))["backend"] == "local"

        records = [r for r in redis_logs.records if r.name == "quantdesk.redis"]
        assert [r.levelno for r in records] == [logging.WARNING]
        assert isinstance(records[0].msg, dict)
        assert records[0].msg["component"] == "token_bucket"

        redis_server.start()  # empty again: the shared bucket starts full
        deadline = time.monotonic() + 5
        while (await limiter.state(key, **bucket))["backend"] != "redis":
            assert time.monotonic() < deadline, "the limiter did not reconnect"
            await asyncio.sleep(0.1)
        assert await limiter.try_acquire(key, **bucket) == 0.0
        levels = [r.levelno for r in redis_logs.records if r.name == "quantdesk.redis"]
        assert levels == [logging.WARNING, logging.INFO]
    finally:
        await limiter.aclose()
