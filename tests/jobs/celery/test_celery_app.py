"""The Celery app's configuration: what the issue asks of delivery, and where tasks come from."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery

from quantdesk.jobs import registry
from quantdesk.jobs.celery_config import PERIODIC_TASK, SWEEP_TASK, broker_url, create_celery_app
from quantdesk.kit.config import Settings


def test_delivery_settings(celery_client: Celery, celery_settings: Settings) -> None:
    conf = celery_client.conf
    assert conf.broker_url == celery_settings.celery_broker_url
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (25 * 60, 30 * 60)
    assert conf.task_ignore_result is True
    # A message is handed out again only after the hard time limit has surely ended the run.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_one_task_per_job_kind_named_the_kind_on_its_queue(celery_client: Celery) -> None:
    specs = registry.all_specs()
    assert specs
    for spec in specs:
        task = celery_client.tasks[spec.kind]
        assert celery_client.conf.task_routes[spec.kind] == {"queue": spec.queue}
        assert task.max_retries == 3  # infrastructure retries: base, 2 x base, 4 x base


def test_beat_schedule_comes_from_the_periodic_kinds(celery_client: Celery) -> None:
    entries = celery_client.conf.beat_schedule
    periodic = registry.periodic_specs()
    assert {p.kind for p in periodic} >= {"cleanup_expired", "drain_validation_queue"}
    for spec in periodic:
        entry = entries[spec.kind]
        assert entry["task"] == PERIODIC_TASK
        assert entry["schedule"] == spec.every
        assert entry["args"] == [spec.kind, dict(spec.params)]
    assert entries["sweep_operations"]["task"] == SWEEP_TASK
    assert set(entries) == {p.kind for p in periodic} | {"sweep_operations"}
    assert entries["sweep_operations"]["schedule"] == timedelta(seconds=2)


def test_broker_defaults_to_the_redis_url(tmp_path: object) -> None:
    with_redis = Settings(redis_url="redis://cache:6379/1", celery_broker_url=None)
    assert broker_url(with_redis) == "redis://cache:6379/1"
    both = Settings(redis_url="redis://cache:6379/1", celery_broker_url="amqp://mq//")
    assert broker_url(both) == "amqp://mq//"
    assert create_celery_app(both).conf.broker_url == "amqp://mq//"
