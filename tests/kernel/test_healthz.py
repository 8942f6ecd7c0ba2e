"""/healthz reports database, cache, broker and the outbox, and answers promptly when Redis is down."""

from unittest import mock

import pytest
from kombu import Connection

from learninghub.kernel.models import OutboxMessage

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_is_public_and_reports_every_component(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["cache"]["ok"] is True
    assert body["broker"]["ok"] is True


def test_healthz_with_unreachable_broker_and_cache_still_answers(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = UNREACHABLE_REDIS
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": UNREACHABLE_REDIS,
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    with mock.patch.object(Connection, "ensure_connection", autospec=True,
                           side_effect=Connection.ensure_connection) as ensure_connection:
        response = client.get("/healthz")
    assert response.status_code == 200, "the database answers, so the app is up"
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False and "error" in body["broker"]
    assert body["cache"]["ok"] is False
    # Bounded by configuration, not by a stopwatch: one attempt with a one-second timeout.
    assert ensure_connection.call_args.kwargs == {"max_retries": 0, "timeout": 1}


def test_healthz_reports_the_real_broker_when_configured(client, settings):
    import os

    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    body = client.get("/healthz").json()
    assert body["broker"] == {"ok": True, "mode": "broker", "ms": body["broker"]["ms"]}


def test_healthz_reports_work_waiting_in_the_outbox_and_work_stuck_there(client, clock):
    assert client.get("/healthz").json()["outbox"] == {"ok": True, "waiting": 0, "oldest_seconds": 0.0,
                                                       "ms": mock.ANY}
    OutboxMessage.objects.create(task="learninghub.kernel.tasks.drain_outbox")
    clock.shift(120)
    waiting = client.get("/healthz").json()["outbox"]
    assert waiting["ok"] is True and waiting["waiting"] == 1 and waiting["oldest_seconds"] == 120.0
    clock.shift(16 * 60)
    response = client.get("/healthz")
    assert response.status_code == 200, "stuck work degrades the report; the app still answers"
    assert response.json()["outbox"]["ok"] is False
    assert "1 message(s) waiting, the oldest for 18 minutes" in response.json()["outbox"]["error"]
