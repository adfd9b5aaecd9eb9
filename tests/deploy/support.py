"""What the deploy tests share: the shipped files, their expressions, and live processes (a real
``quantdesk serve`` and Debian's ``prometheus``) on free ports."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
README = ROOT / "README.md"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts.test.yml"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
IN_CI = os.environ.get("CI", "").lower() == "true"
START_TIMEOUT_SECONDS = 60.0
# Grafana's built-in variables, as Grafana would fill them in for a short range.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def binary(name: str) -> str:
    """The path of a Debian ``prometheus`` package binary; skipped without it, failed in CI."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (apt-get install -y prometheus; .ci/run does it)"
        if IN_CI:
            pytest.fail(f"{message} and CI=true")
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def dashboard_targets(path: Path) -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana's variables filled in) of every panel target."""
    found: list[tuple[str, str]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(name, value)
                found.append((panel["title"], expr))

    walk(json.loads(path.read_text())["panels"])
    return found


def metric_names(expr: str) -> set[str]:
    """The quantdesk metric names an expression reads."""
    return set(re.findall(r"\bquantdesk_[a-z0-9_]+", expr))


class Process:
    """A child process whose output goes to a log file (shown when it fails)."""

    def __init__(self, command: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.process.args!r} exited; log:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def wait_until_ok(process: Process, url: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check_alive()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout} s; log:\n{process.log()}")


def quantdesk_environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        QUANTDESK_ENVIRONMENT="test",
        QUANTDESK_DATA_DIR=str(data_dir),
        QUANTDESK_PROVIDERS="sim",
        QUANTDESK_LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def running_quantdesk(workdir: Path) -> Iterator[str]:
    """``quantdesk db upgrade`` then ``quantdesk serve`` on SQLite; yields its base URL."""
    env = quantdesk_environment(workdir / "data")
    cli = [sys.executable, "-m", "quantdesk.cli.main"]
    subprocess.run([*cli, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    server = Process(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)], env, workdir / "serve.log"
    )
    try:
        wait_until_ok(server, f"http://127.0.0.1:{port}/health/ready")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def live_config(api_target: str, *, interval: str = "1s") -> dict[str, Any]:
    """The shipped config with its API job pointed at ``api_target``, the rules by absolute path,
    and short intervals; jobs whose hosts only exist in compose are left out."""
    config = load_yaml(PROMETHEUS_CONFIG)
    config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    config["rule_files"] = [str(ALERTS)]
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "quantdesk-api"]
    jobs[0]["static_configs"] = [{"targets": [api_target]}]
    config["scrape_configs"] = jobs
    return config


@contextmanager
def running_prometheus(workdir: Path, config: dict[str, Any]) -> Iterator[str]:
    """Debian's prometheus on a free port, storage in ``workdir``; yields its base URL."""
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        binary("prometheus"),
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    server = Process(command, os.environ, workdir / "prometheus.log")
    try:
        wait_until_ok(server, f"http://127.0.0.1:{port}/-/ready")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def readme_settings() -> set[str]:
    """The ``QUANTDESK_*`` variables that have a row in the README's configuration table."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `QUANTDESK_"):
            names.update(re.findall(r"`(QUANTDESK_[A-Z0-9_]+)`", line.split("|")[1]))
    return names
