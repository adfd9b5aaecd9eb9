"""Resident memory of `quantdesk serve` after start and after some requests, full catalog,
beside the floor: a bare FastAPI app with one route, served by the same uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import BENCH_SECRET, SMOKE, compare, free_port, wait_until_ok

QD = str(Path(sys.executable).with_name("quantdesk"))
SEARCHES = ("AAPL", "micro", "bank", "A", "gold", "BRK.B") * (2 if SMOKE else 20)
BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/health")
def health() -> dict:
    return {"status": "ok"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _bare_rss() -> float:
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/health")
        for _ in range(len(SEARCHES)):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        return _rss_mib(bare.pid)
    finally:
        bare.terminate()
        bare.wait(timeout=10)


def main() -> None:
    data_dir = tempfile.mkdtemp(prefix="quantdesk-bench-server-")
    env = {
        **os.environ,
        "QUANTDESK_DATA_DIR": data_dir,
        "QUANTDESK_JWT_SECRET": BENCH_SECRET,
        "QUANTDESK_LOG_LEVEL": "WARNING",
        "QUANTDESK_PROVIDERS": "sim",
    }
    subprocess.run([QD, "db", "upgrade"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    load = [QD, "catalog", "load"]
    if SMOKE:
        load += ["--sources", "stocks", "--countries", "iceland"]
    subprocess.run(load, env=env, check=True, capture_output=True)
    print(f"catalog load (CLI, fresh SQLite): {time.perf_counter() - started:.1f} s wall")

    port = free_port()
    server = subprocess.Popen(
        [QD, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{base}/health/ready")
        print(f"server RSS after start: {_rss_mib(server.pid):.1f} MiB")
        with httpx.Client(base_url=base, timeout=10) as client:
            client.post(
                "/api/v1/auth/signup",
                json={"email": "bench@example.com", "password": "bench-password-123"},
            )
            login = client.post(
                "/api/v1/auth/login",
                json={"email": "bench@example.com", "password": "bench-password-123"},
            ).json()
            token = login["data"]["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            for q in SEARCHES:
                client.get("/api/v1/assets/search", params={"q": q}, headers=headers)
        ours = _rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    compare(
        f"server RSS after {len(SEARCHES)} searches",
        ours,
        _bare_rss(),
        "MiB",
        baseline_label="bare FastAPI app on uvicorn",
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
