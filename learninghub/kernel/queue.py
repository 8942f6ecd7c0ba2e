"""Publishing Celery tasks without ever letting a broker outage break the caller."""

from __future__ import annotations

import logging

from celery import Task, current_app
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, ConnectionError, OSError, TimeoutError)


def enqueue(task: Task, *args, countdown: float | None = None, **kwargs) -> bool:
    """Send ``task``; return False (and log) instead of raising when the broker is unreachable."""
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    except BROKER_ERRORS as exc:
        logger.warning("Broker unavailable, %s not queued: %s", task.name, exc)
        return False
    return True


def enqueue_by_name(name: str, *args, countdown: float | None = None, **kwargs) -> bool:
    """Send the registered task called ``name`` (``"postmortems.tasks.x"``), as :func:`enqueue`.

    Services use this to enqueue their own app's tasks without importing the tasks module (which
    imports the services: no cycle). The task is looked up in the registry, so with tasks
    in-process (``task_always_eager``) it still runs at once, in this process.
    """
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()  # autodiscovery: the tasks modules register themselves
    try:
        task = app.tasks[name]
    except KeyError:
        raise LookupError(f"No Celery task named {name!r}") from None
    return enqueue(task, *args, countdown=countdown, **kwargs)
