"""Prometheus metrics of a Celery node (``quantdesk worker --metrics-port``): multiprocess mode.

Jobs run in prefork children, each with its own memory, so every child writes its samples to
files in one directory per node (prometheus-client's ``PROMETHEUS_MULTIPROC_DIR``) and the node's
main process serves the merged figures on one port. Counters and histograms add up over every
child (dead ones included, so they never go backwards); gauges keep per-metric rules (see
``kit.metrics``). The directory is emptied when the node starts, so give each node its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown

from quantdesk.kit import metrics
from quantdesk.kit.config import Settings
from quantdesk.kit.logging import get_logger

_log = get_logger("quantdesk.jobs.celery")


def metrics_directory(settings: Settings, port: int) -> Path:
    """``QUANTDESK_WORKER_METRICS_DIR``, else one directory per port under the data dir."""
    if settings.worker_metrics_dir is not None:
        return settings.worker_metrics_dir
    return settings.data_dir / "prometheus" / f"worker-{port}"


def install(*, host: str, port: int, directory: Path) -> metrics.MetricsServer:
    """Switch this (main) process to multiprocess mode and serve the node's metrics once ready.

    Binds the port now (a taken port fails the start) and serves from Celery's ``worker_ready``,
    after the pool has forked, so the children never inherit the server's thread.
    """
    metrics.enable_multiprocess(directory)
    server = metrics.MetricsServer(host, port)
    main_pid = os.getpid()

    def serve(**_: Any) -> None:
        server.start()
        _log.info("worker_metrics_serving", host=host, port=server.port, directory=str(directory))

    def stop(**_: Any) -> None:
        if os.getpid() == main_pid:
            server.stop()

    def child_exit(**_: Any) -> None:
        metrics.mark_process_dead()  # its live gauges go; its counters stay in the totals

    worker_ready.connect(serve, weak=False)
    worker_shutdown.connect(stop, weak=False)
    worker_process_shutdown.connect(child_exit, weak=False)
    return server
