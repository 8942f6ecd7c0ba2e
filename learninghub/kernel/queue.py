"""Publishing Celery tasks without ever letting a broker outage break the caller."""

from __future__ import annotations

import logging

from celery import Task
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue(task: Task, *args, countdown: float | None = None, **kwargs) -> bool:
    """Send ``task``; return False (and log) instead of raising when the broker is unreachable."""
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    except (OperationalError, ConnectionError, OSError, TimeoutError) as exc:
        logger.warning("Broker unavailable, %s not queued: %s", task.name, exc)
        return False
    return True
