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
