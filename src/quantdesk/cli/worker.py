"""`quantdesk worker` and `quantdesk beat`: the scaled-out executor's processes (Celery)."""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli.common import configure_cli_logging, err, load_settings
from quantdesk.jobs.registry import QUEUES


def _queues(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUES]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown queue(s) {', '.join(unknown) or '(none)'}; use {', '.join(QUEUES)}"
        )
    return names


def worker(
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Comma-separated queues to consume")
    ] = ",".join(QUEUES),
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Worker processes")
    ] = 2,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Node name (default: unique per process and host)"),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve the node's Prometheus metrics (all its processes) on this port "
            "[default: QUANTDESK_WORKER_METRICS_PORT; unset: no metrics]",
        ),
    ] = None,
    metrics_host: Annotated[
        str | None,
        typer.Option(help="Interface for --metrics-port [default: QUANTDESK_WORKER_METRICS_HOST]"),
    ] = None,
) -> None:
    """Run a Celery worker for background jobs (QUANTDESK_EXECUTOR=celery)."""
    settings = load_settings()
    configure_cli_logging(verbose=True)
    port = metrics_port or settings.worker_metrics_port
    if port is not None:
        # Before the Celery app is loaded and its pool forks: the children record to files.
        from quantdesk.jobs import celery_metrics

        directory = celery_metrics.metrics_directory(settings, port)
        host = metrics_host or settings.worker_metrics_host
        celery_metrics.install(host=host, port=port, directory=directory)
        err().print(f"metrics on http://{host}:{port}/metrics (multiprocess dir {directory})")
    from quantdesk.jobs.celery_worker import default_node_name
    from quantdesk.worker import app as celery_app

    argv = [
        "worker",
        f"--queues={','.join(_queues(queues))}",
        f"--concurrency={concurrency}",
        f"--loglevel={settings.log_level}",
        # Celery's default node name is celery@<host>: two workers on one host would share it.
        f"--hostname={name or default_node_name()}",
    ]
    err().print(f"worker consuming {queues} with {concurrency} process(es)")
    celery_app.worker_main(argv)


def beat(
    schedule_file: Annotated[
        str | None, typer.Option(help="Where beat keeps its last-run times")
    ] = None,
) -> None:
    """Run Celery beat: requests the periodic jobs (``@job(every=...)``); run exactly one."""
    settings = load_settings()
    configure_cli_logging(verbose=True)
    from quantdesk.worker import app as celery_app

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = schedule_file or str(settings.data_dir / "celerybeat-schedule")
    celery_app.start(["beat", f"--schedule={path}", f"--loglevel={settings.log_level}"])
