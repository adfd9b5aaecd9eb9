"""deploy/ without Docker (no engine runs here): the compose file, the Dockerfile and the Grafana
provisioning agree with each other, with the CLI, with the README and with the metrics we export.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest
import typer.main
from prometheus_client.metrics import MetricWrapperBase

from quantdesk.cli.main import app as cli_app
from quantdesk.kit import metrics
from tests.deploy.support import (
    DEPLOY,
    PROMETHEUS_CONFIG,
    ROOT,
    alert_rules,
    dashboard_files,
    dashboard_targets,
    load_yaml,
    metric_names,
    readme_settings,
)

COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
GRAFANA = DEPLOY / "grafana"
QUANTDESK_SERVICES = {"migrate", "api-1", "api-2", "worker", "beat", "market-engine"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def parse_cli(argv: list[str]) -> Any:
    """Parse ``quantdesk …`` as the real CLI would, without running it (bad options raise).

    Returns the command's context: ``.info_name`` is the command, ``.params`` its options.
    """
    assert argv[0] == "quantdesk", argv
    command: Any = typer.main.get_command(cli_app)  # Typer's own (vendored) click objects
    parent = command.context_class(command, info_name="quantdesk")
    name, rest = "quantdesk", argv[1:]
    while hasattr(command, "list_commands"):  # a group: the next word names a sub-command
        name, rest = rest[0], rest[1:]
        found = command.get_command(parent, name)
        assert found is not None, f"quantdesk has no command {name!r}"
        command = found
        if hasattr(command, "list_commands"):
            parent = command.context_class(command, info_name=name, parent=parent)
    return command.make_context(name, rest, parent=parent)


def exported_samples() -> set[str]:
    """Every sample name kit.metrics can export (the family names with their suffixes)."""
    names: set[str] = set()
    for family in vars(metrics).values():
        if isinstance(family, MetricWrapperBase):
            for described in family.describe():
                names.update(described.name + suffix for suffix in SUFFIXES[described.type])
    return names


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(COMPOSE)
    return loaded


# --- metrics the files read ---------------------------------------------------------------------
def test_every_metric_the_alerts_and_dashboards_read_is_exported() -> None:
    """A typo in a metric name still evaluates in Prometheus (to nothing): caught here."""
    exported = exported_samples()
    read = {name for rule in alert_rules() for name in metric_names(rule["expr"])}
    for path in dashboard_files():
        read |= {name for _, expr in dashboard_targets(path) for name in metric_names(expr)}

    assert read - exported == set()
    assert len(read) >= 15


def test_the_dashboard_covers_every_exported_family() -> None:
    read = {
        name
        for path in dashboard_files()
        for _, expr in dashboard_targets(path)
        for name in metric_names(expr)
    }
    families = {
        family.describe()[0].name
        for family in vars(metrics).values()
        if isinstance(family, MetricWrapperBase)
    }
    unshown = {f for f in families if not any(name.startswith(f) for name in read)}
    assert unshown == set()


# --- Grafana ------------------------------------------------------------------------------------
def test_grafana_provisioning_points_at_the_dashboards_and_the_datasource() -> None:
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "quantdesk.yml")
    grafana_volumes = compose()["services"]["grafana"]["volumes"]
    mounted = dict(volume.split(":")[:2] for volume in grafana_volumes if volume.startswith("./"))

    uids = {source["uid"] for source in datasources["datasources"]}
    dashboards_path = providers["providers"][0]["options"]["path"]
    assert mounted["./grafana/dashboards"] == dashboards_path
    assert mounted["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    for path in dashboard_files():
        dashboard = json.loads(path.read_text())
        panels = dashboard["panels"]
        ids = [panel["id"] for panel in panels]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        used = {
            target["datasource"]["uid"] for panel in panels for target in panel.get("targets", [])
        }
        assert used <= uids, f"{path.name} uses datasources {used - uids}"


# --- compose ------------------------------------------------------------------------------------
def test_compose_has_the_scaled_out_topology() -> None:
    services = compose()["services"]

    assert set(services) == QUANTDESK_SERVICES | {"postgres", "redis", "prometheus", "grafana"}
    for name in QUANTDESK_SERVICES:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        environment = service["environment"]
        assert environment["QUANTDESK_EXECUTOR"] == "celery"
        assert environment["QUANTDESK_DATABASE_URL"].startswith("postgresql+asyncpg://quantdesk:")
        assert environment["QUANTDESK_REDIS_URL"] == "redis://redis:6379/0"
        assert environment["QUANTDESK_ENVIRONMENT"] == "production"
    for name in QUANTDESK_SERVICES - {"migrate"}:
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_compose_shares_what_the_api_processes_must_share() -> None:
    """Login limits in Redis (else each API process counts alone), the proxy trusted."""
    services = compose()["services"]
    for name in ("api-1", "api-2"):
        environment = services[name]["environment"]
        assert environment["QUANTDESK_RATE_LIMIT_STORAGE_URL"].startswith("redis://redis:")
        assert environment["QUANTDESK_FORWARDED_ALLOW_IPS"]
        assert (
            environment["QUANTDESK_JWT_SECRET"]
            == services["api-1"]["environment"]["QUANTDESK_JWT_SECRET"]
        )


def test_the_readme_configuration_table_has_every_setting_compose_sets() -> None:
    set_by_compose = {
        name
        for service in QUANTDESK_SERVICES
        for name in compose()["services"][service]["environment"]
        if name.startswith("QUANTDESK_")
    }

    assert set_by_compose - readme_settings() == set()


@pytest.mark.parametrize("service", sorted(QUANTDESK_SERVICES))
def test_each_compose_command_is_a_valid_cli_invocation(service: str) -> None:
    command = compose()["services"][service]["command"]

    context = parse_cli([str(part) for part in command])

    assert context.info_name in {"upgrade", "serve", "worker", "beat", "engine"}


def test_prometheus_scrapes_what_compose_runs() -> None:
    services = compose()["services"]
    scrape = {job["job_name"]: job for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}

    api_targets = scrape["quantdesk-api"]["static_configs"][0]["targets"]
    for target in api_targets:
        host, port = target.split(":")
        assert host in services
        serve = parse_cli([str(part) for part in services[host]["command"]])
        assert serve.params["port"] == int(port)
    worker = parse_cli([str(part) for part in services["worker"]["command"]])
    discovered = scrape["quantdesk-worker"]["dns_sd_configs"][0]
    assert discovered["names"] == ["worker"]
    assert worker.params["metrics_port"] == discovered["port"]
    assert worker.params["metrics_host"] == "0.0.0.0"  # noqa: S104 - inside its container
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]


def test_postgres_gets_an_ordinary_role_for_the_app() -> None:
    """A superuser would bypass row-level security; the init script makes a plain role."""
    services = compose()["services"]
    script = (DEPLOY / "postgres" / "init-quantdesk.sh").read_text()

    assert any(
        "init-quantdesk.sh:/docker-entrypoint-initdb.d/" in v
        for v in services["postgres"]["volumes"]
    )
    assert re.search(r"CREATE ROLE quantdesk LOGIN NOSUPERUSER NOBYPASSRLS", script)
    assert "CREATE DATABASE quantdesk OWNER quantdesk" in script


# --- Dockerfile ---------------------------------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_multi_stage_non_root_and_installs_from_the_lock() -> None:
    instructions = dockerfile_instructions()
    stages = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    final = instructions[stages[-1] :]
    makefile_uv = re.search(r"^UV_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M)
    runs = " ".join(arg for op, arg in instructions if op == "RUN")

    assert len(stages) >= 2
    assert ("USER", "quantdesk") in final
    assert makefile_uv is not None
    assert ("ARG", f"UV_VERSION={makefile_uv.group(1)}") in instructions
    assert "uv sync --frozen --no-dev" in runs
    assert {arg for op, arg in final if op == "EXPOSE"} == {"8000 9101"}
    for op, arg in instructions:
        if op == "COPY" and not arg.startswith("--from"):
            for source in shlex.split(arg)[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_dockerfile_cmd_is_the_readme_s_serve_command() -> None:
    cmd = next(arg for op, arg in dockerfile_instructions() if op == "CMD")
    argv = json.loads(cmd)

    context = parse_cli(argv)

    assert context.info_name == "serve"
    assert "quantdesk serve" in (ROOT / "README.md").read_text()


def test_the_readme_documents_every_command_deploy_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    services = compose()["services"]
    for name in sorted(QUANTDESK_SERVICES):
        argv = [str(part) for part in services[name]["command"]]
        words = [part for part in argv if not part.startswith("-") and not part[0].isdigit()]
        assert " ".join(words[:3]) in readme or " ".join(words[:2]) in readme, argv
        for flag in (part for part in argv if part.startswith("--")):
            assert flag in readme, f"{flag} (compose service {name}) is not in the README"
