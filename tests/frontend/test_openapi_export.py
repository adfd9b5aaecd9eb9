"""`quantdesk openapi` prints the schema the dashboard's typed client is generated from."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from quantdesk.cli import main


def test_openapi_prints_the_apps_schema_without_the_dashboard_route() -> None:
    result = CliRunner().invoke(main.app, ["openapi"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["openapi"].startswith("3.")
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"login", "refresh_token", "place_order", "list_universe_assets"} <= operations
    assert "/{path}" not in schema["paths"]
    assert "dashboard" not in operations
