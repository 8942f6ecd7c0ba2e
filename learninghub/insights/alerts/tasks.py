"""Thin Celery entry points for alerts: evaluate rules, deliver one notification."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from learninghub.insights.alerts import rules, services
from learninghub.insights.alerts.channels import DeliveryError
from learninghub.kernel.queue import enqueue


@shared_task(name="alerts.tasks.evaluate_alerts", expires=14 * 60)
def evaluate_alerts() -> int:
    """Beat, every 15 minutes: every rule for every team (digests included; each is stored once
    per period, so running twice sends nothing twice), then the deliveries due for a retry."""
    created = rules.evaluate()
    for notification_id in services.due_for_retry():
        enqueue(deliver_notification, notification_id)
    return created


@shared_task(name="alerts.tasks.evaluate_team_alerts", expires=3600)
def evaluate_team_alerts(team_id: int, kinds: list[str] | None = None) -> int:
    """On change: the rules a write can trip, for one team."""
    return rules.evaluate(team_ids=[team_id], kinds=kinds)


@shared_task(bind=True, name="alerts.tasks.deliver_notification", autoretry_for=(DeliveryError,),
             retry_backoff=getattr(settings, "ALERT_RETRY_BACKOFF_SECONDS", 30), retry_backoff_max=3600,
             retry_jitter=True, max_retries=getattr(settings, "ALERT_MAX_ATTEMPTS", 6) - 1, acks_late=True,
             soft_time_limit=60, time_limit=90)
def deliver_notification(self, notification_id: int) -> str:
    """Send one stored notification; a failed attempt is recorded, then retried with exponential
    backoff by a worker. In-process (no broker) it is not retried inline, which would hold the
    page or save that raised it: the beat's sweep (``services.due_for_retry``) retries it."""
    try:
        return services.deliver(notification_id)
    except DeliveryError:
        if self.request.is_eager:
            return "failed"
        raise
