"""Market orders through the HTTP API on PostgreSQL at a steady 300 orders/s (then at a rate
this machine sustains): latency p50/p99 beside the floor of the same stack at the same rate
(``GET /auth/me``: the same server, auth and a database round trip, no trading). Goal (issue 10):
p99 < 25 ms. Orders go round-robin to ten accounts; afterwards every account must reconcile and
hold exactly what the orders bought.

The server runs two worker processes (``serve --workers 2``, one per core); the load comes from
``bench.loadgen``'s open loop (latency from each request's due time: no coordinated omission).
Beside the latencies, the CPU one request costs the server, PostgreSQL and the load generator,
and what that makes the machine's ceiling (its cores over the CPU of one request): above the
ceiling no server can keep a p99, so a rate beyond it says nothing about the code. The quote is
the simulated provider's, fresh in the store (fetched on demand at most once a minute).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
from tests import pg

from bench.common import (
    BENCH_SECRET,
    SMOKE,
    backend_cpu,
    compare,
    cpu_seconds,
    free_port,
    percentile,
    wait_until_ok,
)
from bench.loadgen import OpenLoop, Request

QD = str(Path(sys.executable).with_name("quantdesk"))
# The rate, then one under this 2-core machine's ceiling for orders.
RATES = (300,) if SMOKE else (300, 100, 50)
WORKERS = 2
SECONDS = 1 if SMOKE else 10
ACCOUNTS = 10  # orders round-robin over accounts, as many users' would
SYMBOL = "BENCHCOIN-USD"
PASSWORD = "bench-password-123"


class _Cpu:
    """CPU per request of the server (its process group), the PostgreSQL backends serving the
    benchmark's database (not other work on the machine) and this process."""

    def __init__(self, server: int, backends: Callable[[], set[int]]) -> None:
        self.server, self.backends = server, backends

    def _now(self) -> tuple[dict[str, float], dict[int, float]]:
        used = cpu_seconds(groups={"server": self.server})
        return {"server": used["server"], "load generator": time.process_time()}, backend_cpu(
            self.backends()
        )

    def __enter__(self) -> _Cpu:
        self.before = self._now()
        return self

    def __exit__(self, *_: object) -> None:
        (after, pg_after), (before, pg_before) = self._now(), self.before
        self.used = {name: after[name] - before[name] for name in after}
        # a backend that started meanwhile counts from zero; one that ended is lost (rare)
        self.used["postgres"] = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())

    def per_request_ms(self, count: int) -> dict[str, float]:
        return {name: seconds * 1000 / count for name, seconds in self.used.items()}


def _print_cpu(what: str, per_request: dict[str, float]) -> float:
    """Print where one request's CPU went; return the machine's ceiling (requests/s)."""
    total = sum(per_request.values())
    ceiling = (os.cpu_count() or 1) * 1000 / total
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per_request.items())
    print(
        f"  CPU per {what}: {parts} ms = {total:.2f} ms: this machine's ceiling "
        f"{ceiling:,.0f}/s on {os.cpu_count()} cores",
        flush=True,
    )
    return ceiling


def _backends(admin: str, database: str) -> set[int]:
    """The PostgreSQL backends serving ``database`` now (the server's pooled connections)."""
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))
        return {int(pid) for (pid,) in rows}


async def _run(base: str, server: int, admin: str, database: str) -> None:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        credentials = {"email": "o@example.com", "password": PASSWORD}
        await client.post("/api/v1/auth/signup", json=credentials)
        login = await client.post("/api/v1/auth/login", json=credentials)
        headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
        accounts = [
            (
                await client.post(
                    "/api/v1/accounts",
                    json={"name": f"Bench {n}", "starting_cash": "1000000000"},
                    headers=headers,
                )
            ).json()["data"]["id"]
            for n in range(ACCOUNTS)
        ]
        body = {"symbol": SYMBOL, "side": "buy", "qty": "100"}

        def order(i: int) -> Request:
            return Request("POST", f"/api/v1/accounts/{accounts[i % ACCOUNTS]}/orders", body)

        me = Request("GET", "/api/v1/auth/me")
        warm = await client.post(order(0).path, json=body, headers=headers)  # the first quote
        assert warm.status_code == 201, warm.text
        placed, failed_total = 1, 0
        host, port = client.base_url.host, client.base_url.port or 80
        async with OpenLoop(host, port, headers) as load:
            await load.run(lambda _: me, 200, 400)  # connections and caches warm on both sides
            warmed = await load.run(order, 200, 400)
            placed += len(warmed.statuses) - warmed.failed

            def backends() -> set[int]:
                return _backends(admin, database)

            for rate in RATES:
                count = rate * SECONDS
                with _Cpu(server, backends) as floor_cpu:
                    floor = await load.run(lambda _: me, count, rate)
                with _Cpu(server, backends) as ours_cpu:
                    ours = await load.run(order, count, rate)
                placed += count - ours.failed
                failed_total += ours.failed
                print(
                    f"{count:,} market orders at {rate}/s for {SECONDS} s: {ours.failed} failed "
                    f"(the floor: {floor.failed} of as many GET /auth/me)",
                    flush=True,
                )
                for pct in (50, 99):
                    compare(
                        f"  order latency p{pct}", percentile(ours.latencies, pct) * 1000,
                        percentile(floor.latencies, pct) * 1000, "ms",
                        baseline_label="GET /auth/me at the same rate", higher_is_better=False,
                    )  # fmt: skip
                _print_cpu("GET /auth/me", floor_cpu.per_request_ms(count))
                ceiling = _print_cpu("order", ours_cpu.per_request_ms(count))
                p99 = percentile(ours.latencies, 99) * 1000
                if not SMOKE and rate == RATES[0]:
                    verdict = "met" if p99 < 25 else "NOT MET"
                    beyond = " (above this machine's ceiling)" if rate > ceiling else ""
                    print(
                        f"  goal p99 < 25 ms at {rate}/s: {verdict} ({p99:.1f} ms){beyond}",
                        flush=True,
                    )
        held = Decimal(0)
        for account in accounts:
            report = await client.get(f"/api/v1/accounts/{account}/reconcile", headers=headers)
            assert report.json()["data"]["balanced"], report.text
            detail = (await client.get(f"/api/v1/accounts/{account}", headers=headers)).json()
            held += sum(Decimal(p["qty"]) for p in detail["data"]["positions"])
    # An order whose connection dropped may still have filled: never more than was sent.
    assert Decimal(100) * placed <= held <= Decimal(100) * (placed + failed_total), held
    print(
        f"afterwards: {ACCOUNTS} accounts reconciled; {held / 100:,} orders filled of "
        f"{placed:,} answered and {failed_total} dropped (PostgreSQL)",
        flush=True,
    )


def main() -> None:
    if not pg.postgres_available():
        if pg.IN_CI:
            raise SystemExit("PostgreSQL is not reachable and CI=true")
        print("PostgreSQL is not reachable: skipped")
        return
    url, name = pg.create_database("qd_bench_orders")
    try:
        env = {
            **os.environ,
            "QUANTDESK_DATA_DIR": tempfile.mkdtemp(prefix="quantdesk-bench-orders-"),
            "QUANTDESK_DATABASE_URL": url,
            "QUANTDESK_JWT_SECRET": BENCH_SECRET,
            "QUANTDESK_LOG_LEVEL": "WARNING",
            "QUANTDESK_PROVIDERS": "sim",
            "QUANTDESK_MARKET_ENGINE_EMBEDDED": "false",
            "QUANTDESK_SCHEDULER_ENABLED": "false",
        }
        subprocess.run([QD, "db", "upgrade"], env=env, check=True, capture_output=True)
        admin = psycopg.conninfo.make_conninfo(pg.ADMIN_DSN, dbname=name)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO assets (symbol, lookup_key, name, asset_class, metadata, "
                "is_validated, validation_status, created_at, updated_at) "
                "VALUES (%s, %s, 'Bench coin', 'crypto', '{}', true, 'valid', now(), now())",
                (SYMBOL, SYMBOL.replace("-", "")),
            )
        port = free_port()
        server = subprocess.Popen(
            [QD, "serve", "--port", str(port), "--workers", str(WORKERS)],
            env=env,
            start_new_session=True,  # its own process group: the CPU of all its workers
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_ok(f"http://127.0.0.1:{port}/health/ready")
            asyncio.run(_run(f"http://127.0.0.1:{port}", server.pid, admin, name))
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        pg.drop_database(name)


if __name__ == "__main__":
    main()
