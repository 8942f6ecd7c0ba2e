"""/healthz reports database, cache and broker, and answers promptly when Redis is down."""

from unittest import mock

import pytest
from kombu import Connection

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
