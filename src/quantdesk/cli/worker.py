"""`quantdesk worker` and `quantdesk beat`: the scaled-out executor's processes (Celery)."""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli.common import check_database, configure_cli_logging, err, load_settings
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


def market_engine(
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            max=32,
            help="Refresh workers (claim loops) in this process "
            "[default: QUANTDESK_MARKET_ENGINE_WORKERS]",
        ),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(min=0.1, help="Stop after this long (default: until interrupted)"),
    ] = None,
) -> None:
    """Run the market-data refresh engine: workers serve the refresh queue within each
    provider's quota, and the sweep (one turn at a time across processes) fills it from what
    people watch. `serve` runs it itself when embedded; scaled out, run one or more of these
    (with Redis, so fresh values reach every API process's WebSocket watchers)."""
    settings = load_settings()
    configure_cli_logging(verbose=True)
    check_database(settings)
    import asyncio  # here, not at the top: the CLI starts without loading asyncio
    import signal

    from quantdesk import domains
    from quantdesk.kit.db import Database
    from quantdesk.kit.events import build_event_bus
    from quantdesk.market.engine.loops import MarketEngine
    from quantdesk.market.runtime import MarketRuntime
    from quantdesk.trading.matcher import OrderMatcher

    domains.register()

    async def run() -> None:
        db = Database(settings)
        runtime = MarketRuntime(settings, db=db)
        bus = build_event_bus(settings)
        engine = MarketEngine(settings, db, runtime, bus, workers=workers)
        matcher = OrderMatcher(db, settings, bus)  # resting paper orders, on the engine's quotes
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await engine.start()
        await matcher.start()
        err().print(
            f"market engine: {len(engine.workers)} refresh worker(s), the sweep and the "
            "paper-order matcher"
        )
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except TimeoutError:
            pass
        finally:
            await matcher.stop()
            await engine.stop()
            await bus.aclose()
            await runtime.aclose()
            await db.dispose()

    asyncio.run(run())
