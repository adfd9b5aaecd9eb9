"""Resident memory of `quantdesk serve` after start and after some requests, full catalog."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import BENCH_SECRET

QD = str(Path(sys.executable).with_name("quantdesk"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    data_dir = tempfile.mkdtemp(prefix="quantdesk-bench-server-")
    env = {
        **os.environ,
        "QUANTDESK_DATA_DIR": data_dir,
        "QUANTDESK_JWT_SECRET": BENCH_SECRET,
        "QUANTDESK_LOG_LEVEL": "WARNING",
    }
    subprocess.run([QD, "db", "upgrade"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run([QD, "catalog", "load"], env=env, check=True, capture_output=True)
    print(f"catalog load (CLI, fresh SQLite): {time.perf_counter() - started:.1f} s wall")

    port = _free_port()
    server = subprocess.Popen(
        [QD, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
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
            for q in ("AAPL", "micro", "bank", "A", "gold", "BRK.B") * 20:
                client.get("/api/v1/assets/search", params={"q": q}, headers=headers)
        print(f"server RSS after 120 searches: {_rss_mib(server.pid):.1f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
