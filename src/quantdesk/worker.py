"""The Celery entry point: ``celery -A quantdesk.worker worker|beat`` (``quantdesk worker|beat``).

The composition root for worker processes: the domains' job kinds registered on the platform's
worker app.
"""

from __future__ import annotations

from quantdesk import domains
from quantdesk.jobs.celery_worker import create_worker_app
from quantdesk.kit.config import get_settings

domains.register()
app = create_worker_app(get_settings())
