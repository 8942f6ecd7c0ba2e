"""Kernel tasks: a round-trip probe and a heartbeat that proves beat and workers are alive."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task(name="learninghub.kernel.tasks.ping")
def ping(token: str) -> str:
    """Echo ``token`` back; used to prove a task travels through the broker to a worker."""
    cache.set(f"ping:{token}", "pong", timeout=300)
    return f"pong:{token}"


@shared_task(name="learninghub.kernel.tasks.heartbeat")
def heartbeat() -> str:
    """Record when a worker last ran a scheduled task (idempotent: it only overwrites a timestamp)."""
    now = timezone.now().isoformat()
    cache.set("worker:last-heartbeat", now, timeout=None)
    return now


@shared_task(name="learninghub.kernel.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Forget ``Idempotency-Key`` answers older than 24 hours."""
    from learninghub.kernel.api.idempotency import purge_expired

    return purge_expired()


@shared_task(name="learninghub.kernel.tasks.drain_outbox")
def drain_outbox() -> int:
    """Every minute (beat) and after an outage: publish the work the broker missed
    (``learninghub.kernel.outbox``). Idempotent: messages are claimed before they are sent."""
    from learninghub.kernel import outbox

    return outbox.drain()


@shared_task(name="learninghub.kernel.tasks.deliver_changes")
def deliver_changes(payload: dict) -> None:
    """Announce a committed write whose change events were not delivered in the process that
    made it (it died, or a receiver failed): the receivers are idempotent."""
    from learninghub.kernel.events import ChangeSet

    ChangeSet.from_payload(payload).deliver()
