"""Reading snapshots for pages and the API: one query, whatever the history.

A snapshot that is missing (never computed) is computed in-process for the request; so is a
stale one unless a worker is about to recompute it (see ``metrics.scheduling``). Pages then say
the figures are live rather than scheduled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.insights.metrics.scheduling import recompute_is_scheduled
from learninghub.kernel.periods import Month

Key = tuple[int | None, Month]


@dataclass
class SnapshotSet:
    """Snapshots by (team id or None, month), and how fresh they are."""

    rows: dict[Key, MetricSnapshot] = field(default_factory=dict)
    computed_live: bool = False  # some figures were computed for this request
    pending: bool = False  # some figures are stale, and a scheduled recomputation will refresh them

    def get(self, team_id: int | None, month: Month) -> MetricSnapshot | None:
        return self.rows.get((team_id, month))

    def series(self, team_id: int | None, months: list[Month]) -> list[MetricSnapshot]:
        return [self.rows[team_id, month] for month in months if (team_id, month) in self.rows]

    @property
    def computed_at(self) -> dt.datetime | None:
        """When the oldest figure shown was computed."""
        moments = [row.computed_at for row in self.rows.values() if row.computed_at]
        return min(moments) if moments else None


def snapshot_set(months: list[Month], *, team_ids: list[int], organisation: bool = False) -> SnapshotSet:
    """Snapshots of ``team_ids`` (and of the organisation) for ``months``: one query when all are
    fresh; otherwise the missing or unscheduled-stale ones are computed first (one engine run)."""
    months = sorted({Month.of(month) for month in months})
    expected = [(team_id, month) for team_id in team_ids for month in months]
    if organisation:
        expected += [(None, month) for month in months]
    if not expected:
        return SnapshotSet()
    result = SnapshotSet(rows=_read(months, team_ids, organisation))
    missing = [key for key in expected if key not in result.rows or result.rows[key].computed_at is None]
    stale = [key for key in expected if key in result.rows and result.rows[key].is_stale and key not in missing]
    scheduled = bool(stale) and recompute_is_scheduled()
    to_compute = missing + ([] if scheduled else stale)
    if to_compute:
        compute_months = sorted({month for _, month in to_compute})
        if any(team_id is None for team_id, _ in to_compute):
            engine.recompute(compute_months)  # the organisation needs every team's records
        else:
            engine.recompute(compute_months, team_ids=sorted({team_id for team_id, _ in to_compute}))
        result.rows = _read(months, team_ids, organisation)
        result.computed_live = True
    result.pending = any(result.rows[key].is_stale for key in expected if key in result.rows)
    return result


def _read(months: list[Month], team_ids: list[int], organisation: bool) -> dict[Key, MetricSnapshot]:
    queryset = MetricSnapshot.objects.between(months[0], months[-1])
    if organisation and team_ids:
        queryset = queryset.filter(team_id__in=team_ids) | queryset.filter(team__isnull=True)
    elif organisation:
        queryset = queryset.filter(team__isnull=True)
    else:
        queryset = queryset.filter(team_id__in=team_ids)
    wanted = set(months)
    return {(row.team_id, row.period): row for row in queryset if row.period in wanted}
