"""Celery overrides for the topology's processes (``QUANTDESK_CELERY_CONFIG``): fast recovery.

A node killed with ``kill -9`` cannot give its message back; the broker hands it out again after
the visibility timeout, short here (an hour in production) so the takeover takes seconds.
"""

from __future__ import annotations

broker_transport_options = {
    "visibility_timeout": 3,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
