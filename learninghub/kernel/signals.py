"""Cross-app events. Apps announce that a team's records changed in some months; the metrics
engine (which apps never import) listens and decides what to recompute."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from django.db import transaction
from django.dispatch import Signal

# Sent with: team_id: int, months: frozenset[date] (first day of each affected month, UTC).
team_records_changed = Signal()


def month_start(moment: date | datetime) -> date:
    return date(moment.year, moment.month, 1)


def notify_team_records_changed(team_id: int, moments: Iterable[date | datetime | None]) -> None:
    """Announce, once the surrounding transaction commits, that records of ``team_id`` dated
    at ``moments`` changed. ``None`` moments (unset dates) are ignored."""
    months = frozenset(month_start(moment) for moment in moments if moment is not None)
    if not months:
        return
    transaction.on_commit(
        lambda: team_records_changed.send(sender=None, team_id=team_id, months=months), robust=True
    )
