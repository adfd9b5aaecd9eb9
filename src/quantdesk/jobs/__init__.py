"""Background jobs: persisted operations, executors (local, Celery), schedules, live progress."""
