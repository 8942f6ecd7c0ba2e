"""Repeat detection's task, and the listener that enqueues it when an app records a failure."""

from __future__ import annotations

from celery import shared_task

from learninghub.insights.repeats import services
from learninghub.kernel.outbox import enqueue_durably


@shared_task(name="repeats.tasks.detect_repeat")
def detect_repeat(failure_type: str, failure_id: int) -> int | None:
    """Look for an earlier failure this one repeats. Idempotent; a deleted record is a no-op."""
    candidate = services.detect_repeat(failure_type=failure_type, failure_id=failure_id)
    return candidate.pk if candidate else None


def on_failure_recorded(sender, kind: str, record_id: int, team_id: int, **kwargs) -> bool:
    """Receiver of ``learninghub.kernel.events.failure_recorded`` (sent after the write committed).
    Through the outbox: during a broker outage the detection waits there, it is never dropped.
    Returns whether the broker took it at once."""
    return enqueue_durably(detect_repeat.name, kind, record_id)
