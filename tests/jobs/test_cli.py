"""`quantdesk jobs list|show|cancel|watch` against a real server."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from quantdesk.cli.jobs import app as jobs_cli
from quantdesk.jobs.executors.base import Submission
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings
from tests.factories import create_api_token, create_user
from tests.jobs import suite
from tests.jobs.live_server import LiveServer, live_server

runner = CliRunner()


@pytest.fixture
def server(jobs_settings: Settings) -> Iterator[LiveServer]:
    with live_server(jobs_settings) as running:
        yield running


async def test_list_show_watch_and_cancel(server: LiveServer, resources: JobResources) -> None:
    owner = await create_user(resources.db, resources.settings)
    _, secret = await create_api_token(resources.db, owner.user)
    auth = ["--api-url", server.http_url, "--token", secret]
    watched = await suite.request_held(
        resources, "test_steps", {"steps": 3, "pause": 0.1}, owner_id=owner.user.id
    )
    idle = await suite.request_held(resources, "test_noop", owner_id=owner.user.id)

    listed = runner.invoke(jobs_cli, ["list", *auth], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert str(watched) in listed.output
    assert "pending" in listed.output
    as_csv = runner.invoke(jobs_cli, ["list", "--output", "csv", *auth])
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert (rows[str(watched)]["kind"], rows[str(watched)]["status"]) == ("test_steps", "pending")

    cancelled = runner.invoke(jobs_cli, ["cancel", str(idle), *auth])
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled" in cancelled.output

    await suite.release(resources, watched)
    executor = server.app.state.executor
    await server.call(executor.submit([Submission(watched, "test_steps", "maintenance")]))
    watching = runner.invoke(jobs_cli, ["watch", str(watched), *auth])
    assert watching.exit_code == 0, watching.output
    [summary] = watching.stdout.splitlines()  # a summary line, not the result JSON
    assert re.fullmatch(rf"test_steps {watched} succeeded in \d+\.\d s", summary), summary
    as_json = runner.invoke(jobs_cli, ["watch", str(watched), "--output", "json", *auth])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {"steps": 3, "resumed_from": 0}

    shown = runner.invoke(jobs_cli, ["show", str(watched), *auth])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["status"] == "succeeded"

    failed_watch = runner.invoke(jobs_cli, ["watch", str(idle), *auth])
    assert failed_watch.exit_code == 1
    assert failed_watch.stdout.startswith(f"test_noop {idle} cancelled")

    other = await create_user(resources.db, resources.settings)
    _, other_secret = await create_api_token(resources.db, other.user)
    hidden = runner.invoke(
        jobs_cli, ["show", str(watched), "--api-url", server.http_url, "--token", other_secret]
    )
    assert hidden.exit_code == 1
    assert "not found" in hidden.output.lower()
