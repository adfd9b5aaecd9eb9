"""Celery's configuration, and the producer app API processes send with (no tasks registered).

Workers and beat build on it in ``jobs.celery_worker``; the process entry point for
``celery -A`` is the composition root ``quantdesk.worker``. A message carries only an operation
id; the operations table is the truth: no result backend.

Delivery and retries, and how they agree with the runner (``jobs.runner.run_operation``):

- ``acks_late`` + prefetch 1 + ``reject_on_worker_lost``: a message is acknowledged only once its
  task has returned, so a worker killed mid-job gives its message back (at once when a pool child
  dies; after the broker's visibility timeout, an hour, when the whole node dies; sooner through
  beat's sweep, below).
- Every delivery goes through the runner, which claims the row first: a finished job, or one whose
  lease another worker holds, is ``"skipped"`` and changes nothing.
- Business failures (the handler raised) are the runner's: it puts the row back to ``pending`` with
  ``not_before = now + job_retry_base_seconds * 2**(attempt-1)`` (60, 120, 240 s by default). The
  task then re-sends the id with that countdown, so no message waits in the broker for a row that
  is not due, and the attempt count lives in one place (the row).
- A delivery skipped because a live lease is held re-sends itself for just after the lease ends:
  if the holder died, the next delivery takes the job over from its last checkpoint; if it
  finished, that delivery is a no-op.
- Infrastructure failures (database or broker unreachable before the runner could record
  anything) are Celery retries of the same message with the same schedule: base, 2x, 4x. The soft
  time limit is handled the same way: the runner hands the row back, a bounded retry continues it.
- Beat's ``sweep_operations`` (every lease period) re-sends due rows nobody has picked up for a
  lease period and running rows whose lease expired: lost messages, requests made where no
  executor runs, nodes that died. Duplicates it causes are no-ops.

Any Celery setting can be overridden by a module named in ``QUANTDESK_CELERY_CONFIG`` (its names
that are Celery settings win over the defaults here): broker transport options for RabbitMQ or
SQS, or, in tests, a short visibility timeout and extra job modules to import.
"""

from __future__ import annotations

import importlib
import os
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.app.defaults import DEFAULTS
from kombu.entity import Queue

from quantdesk.jobs.registry import QUEUES, periodic_specs
from quantdesk.kit.config import Settings

SOFT_TIME_LIMIT_SECONDS = 25 * 60
TIME_LIMIT_SECONDS = 30 * 60
# Longer than the hard time limit: an unacknowledged message is handed out again only after it.
VISIBILITY_TIMEOUT_SECONDS = 60 * 60
CONFIG_ENV = "QUANTDESK_CELERY_CONFIG"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
PERIODIC_TASK = "quantdesk.request_periodic_job"
SWEEP_TASK = "quantdesk.sweep_operations"


def broker_url(settings: Settings) -> str:
    """``QUANTDESK_CELERY_BROKER_URL``, else ``QUANTDESK_REDIS_URL``, else the local Redis."""
    return settings.resolved_celery_broker_url or DEFAULT_BROKER_URL


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": broker_url(settings),
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        # A worker started without -Q consumes all three.
        "task_queues": [Queue(name, routing_key=name) for name in QUEUES],  # type: ignore[no-untyped-call]
        "task_default_queue": "maintenance",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": SOFT_TIME_LIMIT_SECONDS,
        "task_time_limit": TIME_LIMIT_SECONDS,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "enable_utc": True,
    }
    override = os.environ.get(CONFIG_ENV)
    if override:
        module = importlib.import_module(override)
        # Only Celery's own setting names (so its imports, helpers and __future__ stay out).
        overrides = {name: value for name, value in vars(module).items() if name in DEFAULTS}
        # Job modules are imported now, before the per-kind tasks are registered from the registry.
        for extra in overrides.pop("imports", ()):
            importlib.import_module(extra)
        config.update(overrides)
    config["beat_schedule"] = beat_schedule(settings)
    return config


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery beat entries from the periodic job kinds (``@job(..., every=...)``), plus the sweep
    that re-sends due operations whose message was lost (every lease period)."""
    entries: dict[str, dict[str, Any]] = {
        "sweep_operations": {
            "task": SWEEP_TASK,
            "schedule": timedelta(seconds=settings.job_lease_seconds),
            "options": {"queue": "maintenance"},
        }
    }
    return entries | {
        spec.kind: {
            "task": PERIODIC_TASK,
            "schedule": spec.every,
            "args": [spec.kind, dict(spec.params)],
            "options": {"queue": "maintenance"},
        }
        for spec in periodic_specs()
    }


def create_celery_app(settings: Settings) -> Celery:
    """An app configured for quantdesk that sends, inspects and reads the broker (no tasks)."""
    app = Celery("quantdesk", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app
