"""Thin Celery entry points: take ids, call a service. Both are safe to run again."""

from __future__ import annotations

import datetime as dt
import smtplib

from celery import shared_task
from django.db import OperationalError

from postmortems import services

TRANSIENT = (OperationalError, smtplib.SMTPException, ConnectionError, TimeoutError)


@shared_task(name="postmortems.tasks.send_overdue_reminders", autoretry_for=TRANSIENT, expires=6 * 3600)
def send_overdue_reminders(today: str | None = None) -> int:
    """Daily (beat): remind owners of overdue action items. At most one reminder per item per
    day, however often this runs or is retried (see ``overdue_reminders_send``)."""
    return services.overdue_reminders_send(today=dt.date.fromisoformat(today) if today else None)


@shared_task(name="postmortems.tasks.notify_action_item_assigned", autoretry_for=TRANSIENT)
def notify_action_item_assigned(item_id: int, owner_id: int) -> bool:
    """Email the owner an action item was assigned to (skipped if it was reassigned since)."""
    return services.action_item_assignment_email_send(item_id=item_id, owner_id=owner_id)
