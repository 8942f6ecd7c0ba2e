"""Publishing Celery tasks without ever letting a broker outage break (or slow) the caller.

``enqueue`` is fire-and-forget: it reports whether the broker took the task. Work that must not
be lost goes through :mod:`learninghub.kernel.outbox` instead, which stores it with the write
and publishes it with ``enqueue`` once the transaction commits.

A short circuit breaker keeps a web request fast while the broker is down: after one failed
publish, this process skips publishing for ``BROKER_BREAKER_SECONDS`` (the outbox keeps what it
would have sent), so a write pays for at most one failed connection attempt per window instead
of one per task.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import Task, current_app
from django.conf import settings
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, ConnectionError, OSError, TimeoutError)


class Breaker:
    """Open for a while after a broker failure: callers skip the broker instead of waiting on it."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._tripped = False
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + settings.BROKER_BREAKER_SECONDS
            self._tripped = True

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0
            self._tripped = False

    def recovered(self) -> bool:
        """True once after the broker took a task again following a failure (then False until the
        next failure): the moment to publish what was left behind meanwhile."""
        with self._lock:
            if self._tripped and not self.is_open():
                self._tripped = False
                return True
            return False


breaker = Breaker()


def tasks_in_process() -> bool:
    """True when tasks run at once in this process (no broker: ``task_always_eager``)."""
    return bool(current_app.conf.task_always_eager)


def enqueue(task: Task, *args, countdown: float | None = None, **kwargs) -> bool:
    """Send ``task``; return False (and log) instead of raising when the broker is unreachable,
    or without trying while the breaker is open after a recent failure."""
    in_process = bool(task.app.conf.task_always_eager)
    if not in_process and breaker.is_open():
        logger.info("Broker recently unavailable, %s not queued", task.name)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    except BROKER_ERRORS as exc:
        if not in_process:
            breaker.trip()
        logger.warning("Broker unavailable, %s not queued: %s", task.name, exc)
        return False
    return True


def task_named(name: str) -> Task:
    """The registered task called ``name``; LookupError if there is none."""
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()  # autodiscovery: the tasks modules register themselves
    try:
        return app.tasks[name]
    except KeyError:
        raise LookupError(f"No Celery task named {name!r}") from None


def enqueue_by_name(name: str, *args, countdown: float | None = None, **kwargs) -> bool:
    """Send the registered task called ``name`` (``"postmortems.tasks.x"``), as :func:`enqueue`.

    Services use this to enqueue their own app's tasks without importing the tasks module (which
    imports the services: no cycle). The task is looked up in the registry, so with tasks
    in-process (``task_always_eager``) it still runs at once, in this process.
    """
    return enqueue(task_named(name), *args, countdown=countdown, **kwargs)
