"""Thin Celery entry points for the metrics engine. All idempotent: they upsert snapshots."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from learninghub.insights.metrics import engine, scheduling
from learninghub.insights.metrics.models import current_month, previous_month


def parse_months(months: list[str] | None) -> list[dt.date] | None:
    """``["2026-10", "2026-11"]`` → first days of those months (JSON-friendly task arguments)."""
    if months is None:
        return None
    return [dt.date.fromisoformat(f"{value}-01") for value in months]


def format_months(months) -> list[str]:
    return [f"{month:%Y-%m}" for month in sorted(months)]


@shared_task(name="metrics.tasks.recompute_team")
def recompute_team(team_id: int, months: list[str] | None = None) -> int:
    """One team's snapshots for ``months`` (default: every month with its records)."""
    parsed = parse_months(months)
    if parsed is None:
        parsed = engine.data_months([team_id])
    return engine.recompute(parsed, team_ids=[team_id])


@shared_task(name="metrics.tasks.recompute_all")
def recompute_all(months: list[str] | None = None) -> int:
    """Every team and the organisation for ``months`` (default: backfill every month with data)."""
    parsed = parse_months(months)
    if parsed is None:
        parsed = engine.data_months()
    return engine.recompute(parsed)


@shared_task(name="metrics.tasks.recompute_recent_months")
def recompute_recent_months() -> int:
    """Nightly (beat): the current and previous month for every team and the organisation —
    also refreshes "overdue" counts, which change with the date alone."""
    current = current_month()
    return engine.recompute([previous_month(current), current])


@shared_task(name="metrics.tasks.recompute_stale", bind=True)
def recompute_stale(self) -> int:
    """The debounced run (see ``metrics.scheduling``): every month with a stale snapshot."""
    if not self.request.is_eager:
        scheduling.release()
    return engine.recompute_stale()
