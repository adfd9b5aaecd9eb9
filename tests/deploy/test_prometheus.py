"""The shipped Prometheus files against Debian's ``prometheus``: promtool checks, then a real
Prometheus scraping a live ``quantdesk serve`` and evaluating every alert and dashboard query.

Missing binaries skip these tests locally and fail them under ``CI=true`` (.ci/run installs the
``prometheus`` package when it is missing).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.deploy.support import (
    ALERT_TESTS,
    ALERTS,
    PROMETHEUS_CONFIG,
    alert_rules,
    binary,
    dashboard_files,
    dashboard_targets,
    live_config,
    running_prometheus,
    running_quantdesk,
)

WAIT_SECONDS = 30.0
PASSWORD = "a long enough passphrase"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_shipped_config_and_rules() -> None:
    config = promtool("check", "config", str(PROMETHEUS_CONFIG))
    rules = promtool("check", "rules", str(ALERTS))

    assert config.returncode == 0, config.stdout + config.stderr
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in rules.stdout


def test_each_alert_fires_on_its_situation_and_not_before() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS))

    assert result.returncode == 0, result.stdout + result.stderr
    tested = ALERT_TESTS.read_text()
    untested = [
        rule["alert"] for rule in alert_rules() if f"alertname: {rule['alert']}" not in tested
    ]
    assert untested == []


# --- a live Prometheus over a live quantdesk ----------------------------------------------------
@dataclass
class Live:
    quantdesk: str
    prometheus: str

    def query(self, expr: str) -> dict[str, Any]:
        response = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, Any] = response.json()
        return body

    def values(self, expr: str) -> list[float]:
        body = self.query(expr)
        assert body["status"] == "success", (expr, body)
        return [float(item["value"][1]) for item in body["data"]["result"]]

    def wait_for_target_up(self, job: str) -> None:
        """Until /api/v1/targets says the job's one target was scraped successfully."""
        deadline = time.monotonic() + WAIT_SECONDS
        health: list[str] = []
        while time.monotonic() < deadline:
            response = httpx.get(f"{self.prometheus}/api/v1/targets", timeout=10)
            targets = response.json()["data"]["activeTargets"]
            health = [t["health"] for t in targets if t["labels"]["job"] == job]
            if health == ["up"]:
                return
            time.sleep(0.25)
        raise AssertionError(f"{job} targets are {health} after {WAIT_SECONDS} s")

    def wait_for(self, expr: str, what: str) -> list[float]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = self.values(expr)
            if found:
                return found
            time.sleep(0.25)
        raise AssertionError(f"{what}: {expr} returned nothing in {WAIT_SECONDS} s")


def _traffic(base_url: str) -> None:
    """Requests of every kind the dashboard shows: ok, 401, 404, logins ok and failed."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for path in ("/health", "/api/v1/status", "/api/v1/assets/search?q=apple", "/nope"):
            client.get(path)
        email = f"prom-{uuid.uuid4().hex[:8]}@example.com"
        client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
        login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password"})
        token = login.json()["data"]["access_token"]
        client.get(
            f"/api/v1/universes/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    binary("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus-live")
    with running_quantdesk(workdir) as api:
        target = api.removeprefix("http://")
        with running_prometheus(workdir, live_config(target)) as prometheus:
            live = Live(quantdesk=api, prometheus=prometheus)
            live.wait_for_target_up("quantdesk-api")
            _traffic(api)
            time.sleep(1.5)  # a scrape between the two rounds, so rate() sees an increase
            _traffic(api)
            live.wait_for(
                'quantdesk_login_attempts_total{outcome="failed"} >= 2', "the second round"
            )
            yield live


def test_the_live_target_is_up_and_healthy(live: Live) -> None:
    targets = httpx.get(f"{live.prometheus}/api/v1/targets", timeout=10).json()["data"]
    api = [t for t in targets["activeTargets"] if t["labels"]["job"] == "quantdesk-api"]

    assert [t["health"] for t in api] == ["up"]
    assert api[0]["lastError"] == ""


def test_every_alert_expression_evaluates(live: Live) -> None:
    failures = {
        rule["alert"]: body
        for rule in alert_rules()
        if (body := live.query(rule["expr"]))["status"] != "success"
    }
    assert failures == {}


def test_every_dashboard_expression_evaluates(live: Live) -> None:
    targets = [target for path in dashboard_files() for target in dashboard_targets(path)]
    failures = {
        f"{title}: {expr}": body
        for title, expr in targets
        if (body := live.query(expr))["status"] != "success"
    }

    assert len(targets) >= 20
    assert failures == {}


def test_the_figures_arrive_through_prometheus(live: Live) -> None:
    login = live.values(
        'sum(quantdesk_http_requests_total{route="/api/v1/auth/login", method="POST"})'
    )
    universes = live.values(
        'quantdesk_http_requests_total{route="/api/v1/universes/{universe_id}", status="404"}'
    )
    p95 = live.wait_for(
        "histogram_quantile(0.95, sum by (le) "
        "(rate(quantdesk_http_request_duration_seconds_bucket[1m])))",
        "p95 latency",
    )
    queues = live.values("quantdesk_jobs_queue_depth")

    assert login == [4.0]  # two rounds of one good and one bad login
    assert universes == [2.0]
    assert 0 < p95[0] < 10
    assert len(queues) == 3
    assert live.values('quantdesk_metrics_probe_success{probe="jobs"}') == [1.0]
    assert live.values("quantdesk_activity_active") in ([0.0], [1.0])


def test_rules_are_evaluated_without_error_and_the_api_is_not_down(live: Live) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        groups = httpx.get(f"{live.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        # An unevaluated rule's lastEvaluation is the zero time, 0001-01-01T00:00:00Z.
        evaluated = all(not rule["lastEvaluation"].startswith("0001") for rule in rules)
        if evaluated or time.monotonic() > deadline:
            break
        time.sleep(0.25)

    assert {rule["name"] for rule in rules} == {rule["alert"] for rule in alert_rules()}
    assert {rule["name"]: rule["health"] for rule in rules if rule["health"] != "ok"} == {}
    firing = {rule["name"] for rule in rules if rule["state"] != "inactive"}
    assert "QuantdeskApiDown" not in firing
