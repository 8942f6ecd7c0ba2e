"""Thin Celery entry points for the metrics engine. All idempotent: they upsert snapshots."""

from __future__ import annotations

from celery import shared_task

from learninghub.insights.metrics import engine, scheduling
from learninghub.insights.metrics.models import Computation
from learninghub.kernel.periods import Month

# Months travel as ``Month.key`` strings (``["2026-10", "2026-11"]``): JSON-friendly task arguments.


@shared_task(name="metrics.tasks.recompute_team")
def recompute_team(team_id: int, months: list[str] | None = None) -> int:
    """One team's snapshots for ``months`` (default: every month with its records); asked for
    by a person (the recompute API)."""
    parsed = engine.data_months([team_id]) if months is None else [Month.parse(key) for key in months]
    return engine.recompute(parsed, team_ids=[team_id], computation=Computation.MANUAL)


@shared_task(name="metrics.tasks.recompute_all")
def recompute_all(months: list[str] | None = None) -> int:
    """Every team and the organisation for ``months`` (default: backfill every month with data)."""
    parsed = engine.data_months() if months is None else [Month.parse(key) for key in months]
    return engine.recompute(parsed, computation=Computation.MANUAL)


@shared_task(name="metrics.tasks.recompute_recent_months")
def recompute_recent_months() -> int:
    """Nightly (beat): the current and previous month for every team and the organisation —
    also refreshes "overdue" counts, which change with the date alone — then any month still
    stale (every write marks all the months it can change, however far back; this sweeps up
    what a lost debounced run left behind)."""
    current = Month.current()
    return (engine.recompute([current.previous(), current], computation=Computation.SCHEDULED)
            + engine.recompute_stale(computation=Computation.SCHEDULED))


@shared_task(name="metrics.tasks.recompute_stale", bind=True)
def recompute_stale(self) -> int:
    """The debounced run after writes (see ``metrics.scheduling``): exactly the stale snapshots."""
    if not self.request.is_eager:
        scheduling.release()
    return engine.recompute_stale(computation=Computation.EDIT)
