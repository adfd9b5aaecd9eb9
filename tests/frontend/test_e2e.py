"""The dashboard end to end: Playwright drives Debian's chromium against a real `quantdesk serve`
(simulated market data, a fresh SQLite data directory, a free port): sign up, create a universe,
add AAPL and BTC-USD, open a paper account, deposit, buy, see the position and the activity, log
out; a vault of research files is registered, scanned, browsed by category, its duplicates found,
an organise plan read, applied and rolled back; then an admin logs in and reads the Ops page, and
a third person opens a universe of 5,000 assets (made through the API) and scrolls to its end.
Access tokens live 8 seconds here, so the dashboard refreshes (and rotates) its tokens several
times during the run. Screenshots at 390 px and 1440 px go to frontend/test-results/e2e/."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from tests.frontend.support import (
    CHROMIUM,
    FRONTEND,
    require,
    require_built_dashboard,
    require_node,
)

ADMIN_EMAIL = "admin-e2e@example.com"
ADMIN_PASSWORD = "an admin passphrase"
BIG_EMAIL = "big-universe@example.com"
BIG_PASSWORD = "a big universe passphrase"
BIG_SIZE = 5000
QUANTDESK = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "quantdesk"
OUT_DIR = FRONTEND / "test-results" / "e2e"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"quantdesk serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"quantdesk serve did not answer in 60 s:\n{log.read_text()[-3000:]}")


def _make_big_universe(base: str, database: Path) -> None:
    """A person with one universe of BIG_SIZE catalog equities, through the API."""
    with sqlite3.connect(database) as db:
        symbols = [
            row[0]
            for row in db.execute(
                "SELECT symbol FROM assets WHERE asset_class = 'equity' ORDER BY symbol LIMIT ?",
                (BIG_SIZE,),
            )
        ]
    assert len(symbols) == BIG_SIZE, f"the catalog has {len(symbols)} equities"
    credentials = {"email": BIG_EMAIL, "password": BIG_PASSWORD}
    with httpx.Client(base_url=base, timeout=120) as client:
        client.post("/api/v1/auth/signup", json=credentials).raise_for_status()
        login = client.post("/api/v1/auth/login", json=credentials).raise_for_status()
        token = login.json()["data"]["access_token"]
        created = client.post(
            "/api/v1/universes",
            json={"name": f"Big {BIG_SIZE}", "symbols": symbols},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        assert created.json()["data"]["asset_count"] == BIG_SIZE


def _make_research_folder(data_dir: Path) -> None:
    """A folder inside the vault's default allowed root (<data dir>/vaults) for the e2e person to
    register: a filing, a note, and a duplicate pair."""
    folder = data_dir / "vaults" / "research"
    (folder / "inbox").mkdir(parents=True)
    (folder / "AAPL_10-K_2023.pdf").write_bytes(b"%PDF-1.4 Apple 10-K 2023\n" * 64)
    (folder / "notes.md").write_text("# Ideas\n\nAAPL services margin.\n")
    for name in ("prices.csv", "prices copy.csv"):
        (folder / "inbox" / name).write_text("date,close\n2023-01-03,125.07\n" * 32)


def test_sign_up_build_a_universe_trade_and_log_out(tmp_path: Path) -> None:
    require_built_dashboard()
    node = require_node()
    require(CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install chromium")
    require(
        (FRONTEND / "node_modules" / "playwright-core").is_dir(),
        "frontend/node_modules is missing: `cd frontend && npm ci`",
    )
    quantdesk = str(QUANTDESK) if QUANTDESK.is_file() else (shutil.which("quantdesk") or "")
    env = {
        **os.environ,
        "QUANTDESK_DATA_DIR": str(tmp_path / "data"),
        "QUANTDESK_DATABASE_URL": "",
        "QUANTDESK_PROVIDERS": "sim",
        "QUANTDESK_FRONTEND_DIR": str(FRONTEND / "dist"),
        "QUANTDESK_ENVIRONMENT": "development",
        "QUANTDESK_EXECUTOR": "local",
        "QUANTDESK_JWT_ACCESS_TTL_SECONDS": "8",
    }
    for command in (
        ["db", "upgrade"],
        # The two files the scenario needs (US stocks, crypto): seconds, not the whole catalog.
        ["catalog", "load", "--sources", "stocks,crypto", "--countries", "usa"],
        ["user", "create", ADMIN_EMAIL, "--admin"],
    ):
        subprocess.run(
            [quantdesk, *command],
            env={**env, "QUANTDESK_NEW_USER_PASSWORD": ADMIN_PASSWORD},
            check=True,
            capture_output=True,
            timeout=120,
        )

    _make_research_folder(tmp_path / "data")
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [quantdesk, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/health", server, log)
        _make_big_universe(base, tmp_path / "data" / "quantdesk.db")
        shutil.rmtree(OUT_DIR, ignore_errors=True)
        run = subprocess.run(
            [node, "e2e/run.mjs"],
            cwd=FRONTEND,
            env={
                **env,
                "BASE_URL": base,
                "OUT_DIR": str(OUT_DIR),
                "CHROMIUM": str(CHROMIUM),
                "ADMIN_EMAIL": ADMIN_EMAIL,
                "ADMIN_PASSWORD": ADMIN_PASSWORD,
                "BIG_EMAIL": BIG_EMAIL,
                "BIG_PASSWORD": BIG_PASSWORD,
                "BIG_SIZE": str(BIG_SIZE),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        print(run.stdout)
        assert run.returncode == 0, (
            f"the browser scenario failed (screenshots in {OUT_DIR}):\n{run.stdout}\n{run.stderr}"
            f"\n--- server log (tail) ---\n{log.read_text()[-3000:]}"
        )
        shots = sorted(p.name for p in OUT_DIR.glob("*.png"))
        assert any(name.endswith("-390.png") for name in shots), shots
        assert any(name.endswith("-1440.png") for name in shots), shots
        refreshes = log.read_text().count('"path": "/api/v1/auth/refresh", "status": 200')
        replays = log.read_text().count('"path": "/api/v1/auth/refresh", "status": 401')
        assert refreshes >= 1, "the short-lived access token was never refreshed"
        assert replays == 0, "a spent refresh token was sent again"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
