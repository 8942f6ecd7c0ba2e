"""Durable work after a write: a transactional outbox in front of the broker.

Work that must happen because of a write (repeat detection, the debounced recompute,
notification emails) is stored as an :class:`~learninghub.kernel.models.OutboxMessage` row in
the write's own transaction, published when that transaction commits, and deleted once the
broker took it. If the broker is down (or the breaker in :mod:`learninghub.kernel.queue` is
open, or the process dies between the commit and the publish) the row stays, and the
``drain_outbox`` beat task publishes it when the broker is back. The first successful publish
after an outage also asks for a drain at once, so the backlog does not wait for the next beat.

Tasks must therefore be idempotent (they are: they take ids and upsert), since a row whose
publish succeeded but whose delete failed is published again.

With tasks in-process (no broker, ``task_always_eager``) nothing is stored: the task runs at
once, as it always did.

Other layers add periodic catch-up work to the drain with :func:`register_sweep` (the metrics
engine re-schedules the recompute of stale snapshots there): the kernel never imports them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from learninghub.kernel.models import OutboxMessage
from learninghub.kernel.queue import breaker, enqueue_by_name, task_named, tasks_in_process

logger = logging.getLogger(__name__)

# How long the process that stored (or claimed) a message has to publish it before the drain
# may take it over.
LEASE = dt.timedelta(seconds=60)
DRAIN_TASK = "learninghub.kernel.tasks.drain_outbox"
DRAIN_BATCH = 500
MAX_BACKOFF_SECONDS = 600

_sweeps: list[Callable[[], object]] = []


def register_sweep(sweep: Callable[[], object]) -> None:
    """Run ``sweep()`` at the end of every drain (idempotent catch-up work; errors are logged)."""
    if sweep not in _sweeps:
        _sweeps.append(sweep)


def enqueue_durably(name: str, *args, countdown: float | None = None, once: bool = False) -> bool:
    """Run the task ``name`` for a write that has committed (signal receivers, after-commit hooks).

    In-process: runs it at once. With a broker: stores it, then publishes it at once (the write
    it follows has committed). Returns False when it was left in the outbox for the drain
    (broker unavailable), True when the broker took it. ``once``: not stored again while the
    same task and arguments already wait in the outbox (a debounced run needs one).
    """
    if tasks_in_process():
        return enqueue_by_name(name, *args, countdown=countdown)
    if once and OutboxMessage.objects.filter(task=name, args=list(args)).exists():
        return False
    message = _store(name, args, countdown)
    return message is not None and publish(message)


def enqueue_on_commit(name: str, *args, countdown: float | None = None) -> None:
    """Run the task ``name`` once the current transaction commits, never if it rolls back.

    For services inside the write's transaction: with a broker the outbox row is part of that
    transaction, so the work is recorded exactly when the write is. In-process the task runs in
    an after-commit hook; a failure there is logged, never raised into the saved request.
    """
    if tasks_in_process():
        def run_after_commit() -> None:  # named: robust on_commit logs failures by __qualname__
            enqueue_by_name(name, *args, countdown=countdown)

        transaction.on_commit(run_after_commit, robust=True)
        return
    message = _store(name, args, countdown)
    if message is not None:
        def publish_after_commit() -> None:
            publish(message)

        transaction.on_commit(publish_after_commit, robust=True)


def hold(name: str, *args) -> OutboxMessage | None:
    """Store the task ``name`` without publishing it: the caller does the work itself after the
    commit and then calls :func:`settle`; if it never does (a crash, an error), the drain
    publishes the task once the lease runs out. None in-process (nothing to store)."""
    if tasks_in_process():
        return None
    task_named(name)
    return OutboxMessage.objects.create(task=name, args=list(args), available_at=timezone.now() + LEASE)


def settle(message: OutboxMessage | None) -> None:
    """The work of a :func:`hold` message is done: forget it."""
    if message is not None:
        OutboxMessage.objects.filter(pk=message.pk).delete()


def _store(name: str, args: Sequence, countdown: float | None) -> OutboxMessage | None:
    """The outbox row for a task; None when the breaker is open (the row is then left for the
    drain at once, and nobody should try the broker now)."""
    task_named(name)  # an unknown task fails the caller now, not a drain later
    now = timezone.now()
    skip_publish = breaker.is_open()
    message = OutboxMessage.objects.create(
        task=name, args=list(args),
        eta=now + dt.timedelta(seconds=countdown) if countdown else None,
        # While the breaker is open the drain may take it at once; otherwise we publish it.
        available_at=now if skip_publish else now + LEASE,
    )
    return None if skip_publish else message


def publish(message: OutboxMessage) -> bool:
    """Hand ``message`` to the broker and delete it; on failure keep it for the drain (with a
    growing back-off when it keeps failing). Returns whether the broker took it."""
    countdown = None
    if message.eta is not None:
        countdown = max(0.0, (message.eta - timezone.now()).total_seconds()) or None
    error = "broker unavailable"
    try:
        published = enqueue_by_name(message.task, *message.args, countdown=countdown)
    except LookupError as exc:  # a task renamed or removed since the row was written
        published, error = False, str(exc)
        logger.error("Outbox message %s: %s", message.pk, exc)
    if published:
        OutboxMessage.objects.filter(pk=message.pk).delete()
        if breaker.recovered():
            request_drain()
        return True
    backoff = 0 if message.attempts == 0 else min(2 ** message.attempts, MAX_BACKOFF_SECONDS)
    OutboxMessage.objects.filter(pk=message.pk).update(
        available_at=timezone.now() + dt.timedelta(seconds=backoff), attempts=F("attempts") + 1, last_error=error,
    )
    return False


def request_drain() -> bool:
    """Ask a worker to drain the outbox now (after an outage), rather than at the next beat."""
    return enqueue_by_name(DRAIN_TASK)


def claim(limit: int = DRAIN_BATCH) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this process: their lease is renewed in one
    statement, after locking them with ``SKIP LOCKED`` on PostgreSQL, so concurrent drains take
    disjoint sets (on SQLite writes are serialised; a message published twice is harmless)."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(OutboxMessage.objects.due(now).select_for_update(skip_locked=True)
                   .values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        OutboxMessage.objects.filter(pk__in=ids).update(available_at=now + LEASE)
    return list(OutboxMessage.objects.filter(pk__in=ids).order_by("pk"))


def drain(limit: int = DRAIN_BATCH) -> int:
    """Publish what was left behind (oldest first), then run the registered sweeps. Safe to run
    concurrently and repeatedly. Returns how many messages the broker took."""
    published = 0
    messages = claim(limit)
    for index, message in enumerate(messages):
        if breaker.is_open():  # the broker went away again: give the rest back to the next drain
            OutboxMessage.objects.filter(pk__in=[m.pk for m in messages[index:]]).update(available_at=timezone.now())
            break
        published += publish(message)
    for sweep in list(_sweeps):
        try:
            sweep()
        except Exception:
            logger.exception("Outbox sweep %s failed", getattr(sweep, "__qualname__", sweep))
    if len(messages) == limit and not breaker.is_open():
        request_drain()  # more are waiting: another batch, without waiting for the beat
    return published


def pending() -> int:
    """How many messages wait for the broker (health reporting, tests)."""
    return OutboxMessage.objects.count()
