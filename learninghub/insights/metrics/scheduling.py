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
   recomputes every stale month in one set-based pass and stores, per row, the version it saw
   before computing: a write that lands meanwhile leaves its row stale for the next run.

So a burst of 100 writes within the countdown costs one recomputation. With tasks in-process
(no broker) the task runs at once, and the flag is left to expire after the debounce window:
the first write of a burst recomputes, the rest of the burst only marks rows stale, and pages
compute those lazily. If the broker is down, the flag is dropped and pages (and the API)
compute stale snapshots in-process and say the figures are live.
"""

from __future__ import annotations

import contextlib
import logging

from django.conf import settings
from django.core.cache import cache

from learninghub.insights.metrics import engine
from learninghub.kernel.queue import enqueue_by_name

logger = logging.getLogger(__name__)

SCHEDULED_KEY = "metrics:recompute-scheduled"
RECOMPUTE_TASK = "metrics.tasks.recompute_stale"
# How long past its countdown a scheduled run may be late (a busy or dead worker) before pages
# stop waiting for it and compute stale snapshots themselves.
SCHEDULE_GRACE_SECONDS = 120


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
    if enqueue_by_name(RECOMPUTE_TASK, countdown=debounce_seconds()):
        return True
    release()
    return False


def release() -> None:
    """Let the next write schedule a new run (called by the task as it starts)."""
    with contextlib.suppress(Exception):
        cache.delete(SCHEDULED_KEY)


def recompute_is_scheduled() -> bool:
    """True when a worker will recompute stale snapshots soon (never with in-process tasks)."""
    if tasks_in_process():
        return False
    try:
        return cache.get(SCHEDULED_KEY) is not None
    except Exception:
        return False
