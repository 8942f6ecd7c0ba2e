"""End to end on the PostgreSQL + Redis run: a real worker retries a webhook answering 500 with
Celery's exponential backoff until it is delivered, once. Skipped without REDIS_URL."""

from __future__ import annotations

import pytest

from learninghub.insights.alerts import services
from learninghub.insights.alerts.models import AlertKind, Notification, NotificationStatus
from learninghub.insights.alerts.services import Alert
from tests.alerts.conftest import team_webhook
from tests.conftest import wait_for

pytestmark = pytest.mark.broker


@pytest.fixture
def worker_settings(monkeypatch):
    """What the worker (started with this environment) needs: 127.0.0.1 allowed, quick backoff."""
    monkeypatch.setenv("ALERT_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("ALERT_WEBHOOK_TIMEOUT", "2")
    monkeypatch.setenv("ALERT_RETRY_BACKOFF_SECONDS", "1")


def test_a_real_worker_retries_until_one_delivery(worker_settings, receiver, celery_worker_process, team, lead):
    team_webhook(team, lead, receiver)
    receiver.plan = [500, 500, 500, 200]
    [notification] = services.raise_alert(Alert(AlertKind.SYSTEM_BURST, "team:worker", "2026-11-18", team.pk,
                                                lambda: {"title": "Burst", "lines": []}))
    wait_for(lambda: Notification.objects.get(pk=notification.pk).status == NotificationStatus.SENT, timeout=60)
    assert len(receiver.delivered) == 1 and len(receiver.requests) == 4
    assert all(request.verified for request in receiver.requests)
