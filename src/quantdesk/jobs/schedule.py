"""The ONE periodic schedule: what runs on its own, and how often.

Read by the in-process scheduler (embedded mode) and by Celery beat (scaled out); neither keeps a
list of its own. Each entry names a registered job kind; at each tick the scheduler asks for an
owner-less (system) operation of that kind with ``params``, so a periodic run is an operation like
any other (listed, retried, cleaned up). ``every`` is the interval between two requests.

- ``refresh_stale_validations`` (hourly): re-validates assets last validated more than 24 h ago,
  at most ``REFRESH_BATCH_LIMIT`` per run (see ``quantdesk.jobs.maintenance``).
- ``cleanup_expired`` (every 6 h): deletes finished operations older than
  ``operations_retention_days`` with their files.
- ``drain_validation_queue`` (every 5 min): turns due rows of the validation queue (symbols no
  provider could answer earlier) into ``validate_asset`` jobs (see ``quantdesk.market.tasks``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class PeriodicJob:
    name: str  # the schedule entry's name (Celery beat's entry key)
    kind: str  # the registered job kind to request
    every: timedelta
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.every.total_seconds()


SCHEDULE: tuple[PeriodicJob, ...] = (
    PeriodicJob("refresh_stale_validations", "refresh_stale_validations", timedelta(hours=1)),
    PeriodicJob("cleanup_expired", "cleanup_expired", timedelta(hours=6)),
    PeriodicJob("drain_validation_queue", "drain_validation_queue", timedelta(minutes=5)),
)


def periodic_jobs() -> tuple[PeriodicJob, ...]:
    return SCHEDULE
