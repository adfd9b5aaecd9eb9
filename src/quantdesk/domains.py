"""The composition root's list of domains: importing their job modules registers their job kinds
(``@job``) with the platform. Every process kind calls ``register`` before it runs or requests
jobs: the API (``quantdesk.app``), Celery workers and beat (``quantdesk.worker``), the CLI."""

from __future__ import annotations

import importlib

# The jobs platform's own maintenance, then each domain's tasks module.
JOB_MODULES = (
    "quantdesk.jobs.maintenance",
    "quantdesk.market.tasks",
    "quantdesk.universes.tasks",
    "quantdesk.trading.tasks",
    "quantdesk.vault.tasks",
)


def register() -> None:
    for name in JOB_MODULES:
        importlib.import_module(name)
