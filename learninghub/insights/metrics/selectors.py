"""Reading snapshots for pages and the API: one query, whatever the history.

Stale-while-revalidate: a stale snapshot (records changed since it was computed) is served as
it is, labelled, while a worker recomputes it — the recomputation is scheduled if it is not
already (see ``metrics.scheduling``). Only what cannot wait is computed in-process, and only the
keys needed (``engine.recompute_keys``): a *missing* snapshot (never computed), or a stale one
when no worker can take it (tasks in-process, the broker or the cache down). Pages then say the
figures are live. Background callers that act on the figures (alerts) ask for ``fresh`` ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db.models import Q

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.models import Computation, MetricSnapshot
from learninghub.insights.metrics.scheduling import revalidate
from learninghub.kernel.periods import Month

Key = tuple[int | None, Month]


@dataclass(frozen=True)
class Source:
    """One computation behind some of the figures shown: which, and when it last ran for them."""

    computation: str
    label: str
    computed_at: dt.datetime


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

    @property
    def sources(self) -> list[Source]:
        """The computations that produced the figures shown, the most recent first (each with
        the last time it ran for them): what the status line names."""
        latest: dict[str, dt.datetime] = {}
        for row in self.rows.values():
            if row.computed_at and row.computed_by and row.computed_at > latest.get(row.computed_by, row.computed_at):
                latest[row.computed_by] = row.computed_at
            elif row.computed_at and row.computed_by:
                latest.setdefault(row.computed_by, row.computed_at)
        labels = dict(Computation.choices)
        return [Source(computation, labels.get(computation, computation), moment)
                for computation, moment in sorted(latest.items(), key=lambda item: item[1], reverse=True)]


class SnapshotPoint(NamedTuple):
    """The few columns of a team's snapshot that a series over months draws (its score) and the
    freshness bookkeeping, without a model instance: the organisation dashboard reads 50 teams'
    12 months for one line each, and building 600 whole snapshots was half its time (a named
    tuple is built in C: a third of the time of a class with slots). Staleness and the month are
    the model's own properties (one copy of each rule)."""

    computed_at: dt.datetime | None
    computed_by: str
    computed_version: int
    dirty_version: int
    learning_efficiency_score: float | None
    month: dt.date
    team_id: int

    is_stale = MetricSnapshot.is_stale
    period = MetricSnapshot.period


def snapshot_set(months: list[Month], *, team_ids: list[int], organisation: bool = False,
                 fresh: bool = False, with_team: bool = True,
                 whole_months: set[Month] | None = None) -> SnapshotSet:
    """Snapshots of ``team_ids`` (and of the organisation) for ``months``, in one query when
    none is missing (stale ones are served and recomputed by a worker; see the module).

    ``fresh``: compute stale snapshots in-process too (for callers acting on the figures).
    ``with_team=False``: without each snapshot's Team joined (the organisation dashboard, which
    has its teams, reads 50 teams' months: building 663 Team objects was a fifth of its time).
    ``whole_months``: only these months' team snapshots are whole; the others' are
    :class:`SnapshotPoint` (one more query; the organisation's snapshots are always whole).
    """
    months = sorted({Month.of(month) for month in months})
    expected = [(team_id, month) for team_id in team_ids for month in months]
    if organisation:
        expected += [(None, month) for month in months]
    if not expected:
        return SnapshotSet()
    result = SnapshotSet(rows=_read(months, team_ids, organisation, with_team, whole_months))
    missing, stale = [], []
    for key in expected:
        row = result.rows.get(key)
        if row is None or row.computed_at is None:
            missing.append(key)
        elif row.is_stale:
            stale.append(key)
    to_compute = missing
    if stale and (fresh or not revalidate()):
        to_compute = missing + stale
    if to_compute:
        engine.recompute_keys(to_compute, computation=Computation.LIVE)
        result.rows = _read(months, team_ids, organisation, with_team, whole_months)
        result.computed_live = True
        result.pending = any(result.rows[key].is_stale for key in expected if key in result.rows)
    else:
        result.pending = bool(stale)
    return result


def _read(months: list[Month], team_ids: list[int], organisation: bool, with_team: bool = True,
          whole_months: set[Month] | None = None) -> dict[Key, MetricSnapshot | SnapshotPoint]:
    queryset = MetricSnapshot.objects.between(months[0], months[-1])
    if with_team:
        queryset = queryset.select_related("team")
    if organisation and team_ids:
        queryset = queryset.filter(team_id__in=team_ids) | queryset.filter(team__isnull=True)
    elif organisation:
        queryset = queryset.filter(team__isnull=True)
    else:
        queryset = queryset.filter(team_id__in=team_ids)
    by_first_day = {month.first_day: month for month in months}  # the month of each stored first day
    rows: dict[Key, MetricSnapshot | SnapshotPoint] = {}
    if whole_months is None:
        for row in queryset:
            if (month := by_first_day.get(row.month)) is not None:
                rows[row.team_id, month] = row
        return rows
    first_days = [month.first_day for month in whole_months]
    for row in queryset.filter(Q(team__isnull=True) | Q(month__in=first_days)):
        if (month := by_first_day.get(row.month)) is not None:
            rows[row.team_id, month] = row
    points = queryset.filter(team__isnull=False).exclude(month__in=first_days).values_list(*SnapshotPoint._fields)
    for point in map(SnapshotPoint._make, points):
        if (month := by_first_day.get(point.month)) is not None:
            rows[point.team_id, month] = point
    return rows
