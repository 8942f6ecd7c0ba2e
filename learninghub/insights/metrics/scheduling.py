"""When records change, recompute the affected snapshots — debounced.

The scheme:

1. Apps' services emit a ChangeSet (``learninghub.kernel.events``) when their transaction
   commits: ``team_records_changed(team_id, months)`` for every month the write can change.
2. ``mark_stale`` records it in the database, in two statements: the team's and the
   organisation's snapshots for those months get their ``dirty_version`` bumped (rows are
   created if missing). The snapshot table itself is the set of pending work, so nothing is
   lost if the cache or the broker restarts.
3. At most one recomputation is scheduled at a time: ``cache.add`` of a flag (atomic on Redis
   and in-process caches) succeeds for the first write of a burst only, which enqueues
   ``recompute_stale`` with a countdown of ``METRICS_DEBOUNCE_SECONDS`` (default 10). Every
   other write of the burst only bumps versions.
4. The task clears the flag as it starts (a write after that schedules a new run), then
   recomputes exactly the stale team-months (and organisation months, from the teams' stored
   counts) in one set-based pass (``engine.recompute_keys``) and stores, per row, the version it saw
   before computing: a write that lands meanwhile leaves its row stale for the next run.

So a burst of 100 writes within the countdown costs one recomputation. With tasks in-process
(no broker) the task runs at once, and the flag is left to expire after the debounce window:
the first write of a burst recomputes, the rest of the burst only marks rows stale, and pages
compute those lazily. If the broker is down, the flag is dropped and pages (and the API)
compute stale snapshots in-process and say the figures are live.

Pages serve stale snapshots while a worker recomputes them (``revalidate``, used by
``metrics.selectors``): they schedule the run if no write did, and compute in-process only
when nothing else will (see ``revalidate``).
"""

from __future__ import annotations

import contextlib
import logging
import time

from django.conf import settings
from django.core.cache import cache

from learninghub.insights.metrics import engine
from learninghub.kernel.outbox import enqueue_durably
from learninghub.kernel.queue import enqueue_by_name

logger = logging.getLogger(__name__)

SCHEDULED_KEY = "metrics:recompute-scheduled"
RECOMPUTE_TASK = "metrics.tasks.recompute_stale"
# How long past its countdown a scheduled run may be late (a busy or dead worker) before pages
# stop waiting for it and compute stale snapshots themselves.
SCHEDULE_GRACE_SECONDS = 120
# When a page first asked a worker for a run that has not started yet (see ``revalidate``).
REQUESTED_KEY = "metrics:recompute-requested"
REQUEST_MEMORY_SECONDS = 86400


def debounce_seconds() -> int:
    return settings.METRICS_DEBOUNCE_SECONDS


def tasks_in_process() -> bool:
    from learninghub.celery import app

    return bool(app.conf.task_always_eager)


def on_team_records_changed(sender, team_id: int, months, **kwargs) -> None:
    """Receiver of ``learninghub.kernel.events.team_records_changed``; ``months`` are
    :class:`~learninghub.kernel.periods.Month` values (first-day dates work too)."""
    engine.mark_stale(team_id, months)
    schedule_recompute()


def schedule_recompute() -> bool:
    """Make sure one debounced recomputation of everything stale is on its way.

    Returns True when one is scheduled (now or already); False when the broker could not take
    it (stale snapshots are then computed by the pages that need them).
    """
    window = debounce_seconds() if tasks_in_process() else debounce_seconds() + SCHEDULE_GRACE_SECONDS
    try:
        claimed = cache.add(SCHEDULED_KEY, "1", timeout=window)
    except Exception as exc:  # the cache is down: pages will compute what is stale
        logger.warning("metrics: cannot debounce, cache unavailable: %s", exc)
        return False
    if not claimed:
        return True
    # By name: the tasks module imports this one (for ``release``), so importing it back would be a cycle.
    if enqueue_durably(RECOMPUTE_TASK, countdown=debounce_seconds(), once=True):
        return True
    release()
    return False


def release() -> None:
    """Let the next write schedule a new run (called by the task as it starts)."""
    with contextlib.suppress(Exception):
        cache.delete_many([SCHEDULED_KEY, REQUESTED_KEY])


def recompute_is_scheduled() -> bool:
    """True when a worker will recompute stale snapshots soon (never with in-process tasks)."""
    if tasks_in_process():
        return False
    try:
        return cache.get(SCHEDULED_KEY) is not None
    except Exception:
        return False


def sweep_stale() -> bool:
    """Outbox sweep (``learninghub.kernel.outbox.register_sweep``): after a broker outage, stale
    snapshots whose debounced run was never queued get one now. True when one is scheduled."""
    from learninghub.insights.metrics.models import MetricSnapshot

    return MetricSnapshot.objects.stale().exists() and schedule_recompute()


def revalidate() -> bool:
    """For a page serving stale snapshots (stale-while-revalidate): True when a worker will
    recompute them — a run is scheduled, or the broker takes one now — so the page need not.

    Fire-and-forget (``enqueue_by_name``, breaker-aware): a page writes nothing, since the write
    that made the rows stale stored its own durable request. False — the page computes what it
    shows — with tasks in-process, the cache or the broker down, or when a run a page asked for
    more than the debounce and grace ago has still not started (no worker is taking them).
    """
    if tasks_in_process():
        return False
    try:
        requested = cache.get(REQUESTED_KEY)
        if requested is not None and time.time() - requested > debounce_seconds() + SCHEDULE_GRACE_SECONDS:
            return False
        if cache.get(SCHEDULED_KEY) is not None:
            return True
        if not cache.add(SCHEDULED_KEY, "1", timeout=debounce_seconds() + SCHEDULE_GRACE_SECONDS):
            return True
    except Exception as exc:  # the cache is down
        logger.warning("metrics: cannot schedule a recomputation, cache unavailable: %s", exc)
        return False
    if enqueue_by_name(RECOMPUTE_TASK, countdown=debounce_seconds()):
        with contextlib.suppress(Exception):
            cache.add(REQUESTED_KEY, time.time(), timeout=REQUEST_MEMORY_SECONDS)
        return True
    release()
    return False
