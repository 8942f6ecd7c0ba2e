"""Celery wiring: tasks run in-process by default, and through a real broker to a real worker."""

import uuid

import pytest
from celery import Celery
from django.core.cache import cache

from learninghub.celery import app
from learninghub.kernel.queue import enqueue
from learninghub.kernel.tasks import heartbeat, ping
from tests.conftest import wait_for


def test_tasks_are_autodiscovered_and_default_to_retry_with_backoff():
    assert "learninghub.kernel.tasks.ping" in app.tasks
    assert ping.retry_backoff is True
    assert ping.max_retries == 5
    assert app.conf.task_acks_late is True


def test_beat_schedule_points_at_tasks_a_worker_registers():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery included
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry


def test_in_process_round_trip():
    token = uuid.uuid4().hex
    assert ping.delay(token).get() == f"pong:{token}"
    assert cache.get(f"ping:{token}") == "pong"


def test_heartbeat_is_idempotent():
    heartbeat.delay()
    heartbeat.delay()
    assert cache.get("worker:last-heartbeat")


def test_enqueue_reports_failure_instead_of_raising_when_the_broker_is_down(settings):
    # What bounds the wait is configuration (one connection attempt, no publish retries), so the
    # test checks that rather than timing the call.
    assert settings.CELERY_TASK_PUBLISH_RETRY is False
    assert settings.CELERY_BROKER_CONNECTION_TIMEOUT <= 1
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["max_retries"] == 0
    offline = Celery("offline", set_as_current=False)
    offline.config_from_object("django.conf:settings", namespace="CELERY")
    offline.conf.update(broker_url="redis://127.0.0.1:1/0", task_always_eager=False)

    @offline.task(name="offline.noop")
    def noop():
        return None

    assert enqueue(noop) is False


@pytest.mark.broker
def test_round_trip_through_the_broker_to_a_real_worker(celery_worker_process):
    token = uuid.uuid4().hex
    assert enqueue(ping, token) is True
    wait_for(lambda: cache.get(f"ping:{token}") == "pong", timeout=30)
