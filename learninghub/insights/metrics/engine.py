"""The learning metrics engine: exact definitions (DESIGN.md, "Metrics — exact definitions"),
computed with set-based aggregates grouped by team and month in the database.

Periods are UTC calendar months ``[start, end)``. One computation runs a fixed number of
grouped queries whatever the number of teams, months or records:

1. experiments started, per team and month of ``started_at`` (and how many are novel);
2. failed experiments, per team, month of ``ended_at``, failure mode and kind (and how many repeat);
3. post-mortems, per team, month of ``occurred_at`` and failure mode (and how many repeat);
4. post-mortems resolved, per team and month of ``resolved_at``: sums of recovery and detection
   hours, their median and 90th percentile (``percentile_cont``; see ``metrics.sql``);
5. lessons entering and leaving the 365-day window and, from their first application, counting
   as applied: the changes of both counts summed per team and month (see below);
6. action items, per team and month of ``due_date``;

then upserts the snapshots that changed (one multi-row statement per batch; none when nothing
did). Python only combines the grouped rows (a few per team and month), never records.

**Fixed costs** (issue 15): the grouped rows are read straight from the cursor (no per-value
converters); the stored rows are read once, before computing, for their versions and to leave
an unchanged row unwritten; and each query's SQL is compiled once per shape of the scope
(``_Template``), so a small computation (one team-month) costs little more than its queries.

**What is computed.** A full computation (``recompute``) covers every team, or some, over some
months; far-apart months are separate runs (never the span between them). The incremental one
(``recompute_keys``, what runs after a write) covers exactly the stale (team, month) keys: each
team's months grouped into contiguous runs, all runs in the same six queries (each an OR of
team-and-date ranges).

**The lesson window.** A lesson documented at ``d`` is in the window of month M (ending at E)
when ``E − 365 days ≤ d < E``, i.e. for the months from ``month(d)`` up to, not including,
``month(d + 365 days)``. It counts as applied from ``month(max(d, a))`` where ``a`` is its
first application (``applied_at < E``). So each lesson adds +1 to the window count at
``month(d)`` and −1 at ``month(d + 365 days)`` (and likewise for the applied count, from
``month(max(d, a)) = max(month(d), month(a))``); the database sums those changes per team and
month, and a running sum over them gives every month's counts in one pass.

**The organisation**: every record belongs to exactly one team, so the organisation's counts are
the sums of the disjoint per-team counts (not averages of team rates) — of the same queries in a
full computation, of the teams' stored snapshots in an incremental one (which stores the hour
sums behind the means for that) — its ratios and means are re-derived from those totals, and
its median and 90th percentile come from their own query over all its post-mortems.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import operator
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    DateField,
    DateTimeField,
    ExpressionWrapper,
    F,
    JSONField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from experiments.models import Experiment, FailureKind, Lesson, LessonApplication, Outcome
from learninghub.insights.metrics.models import STALE, Computation, MetricSnapshot
from learninghub.insights.metrics.sql import HoursBetween, Percentile
from learninghub.kernel.choices import UNSPECIFIED, FailureMode
from learninghub.kernel.models import Team
from learninghub.kernel.periods import Month
from postmortems.models import ActionItem, ActionItemStatus, PostMortem

logger = logging.getLogger(__name__)

LESSON_WINDOW = dt.timedelta(days=365)
SCORE_WEIGHTS = {"lesson_application": 0.3, "no_repeat": 0.3, "innovation": 0.2, "velocity": 0.2}
VELOCITY_CAP = 10.0
UNFINISHED = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)

Key = tuple[int | None, Month]  # (team id or None for the organisation, month)
# Where a month comes in (callers, signals, stored rows), a Month or a date in it is accepted.
MonthLike = Month | dt.date


# --- Definitions (pure functions, the single source of each rule) ---------------------------

def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def experiment_velocity(started: int, month: MonthLike) -> float:
    """Experiments started per week: started ÷ (days in the month ÷ 7); 0 when none."""
    return started * 7 / _days(Month.of(month))


@functools.lru_cache(maxsize=1024)
def _days(month: Month) -> int:
    return month.days


def learning_efficiency_score(*, lesson_application_rate: float | None, repeat_failure_rate: float | None,
                              innovation_index: float | None, experiment_velocity: float) -> float | None:
    """0.3·application + 0.3·(1 − repeat) + 0.2·innovation + 0.2·min(velocity ÷ 10, 1).

    Null components are left out and the remaining weights rescaled to sum to 1. Velocity is 0
    (not null) when no experiment started, so its component is always present, except in a month
    where nothing at all was recorded (every other component null): that month has no score.
    """
    if lesson_application_rate is None and repeat_failure_rate is None and innovation_index is None:
        return None
    components = [
        (SCORE_WEIGHTS["lesson_application"], lesson_application_rate),
        (SCORE_WEIGHTS["no_repeat"], None if repeat_failure_rate is None else 1 - repeat_failure_rate),
        (SCORE_WEIGHTS["innovation"], innovation_index),
        (SCORE_WEIGHTS["velocity"], min(experiment_velocity / VELOCITY_CAP, 1.0)),
    ]
    present = [(weight, value) for weight, value in components if value is not None]
    total_weight = sum(weight for weight, _ in present)
    return sum(weight * value for weight, value in present) / total_weight


# --- Raw counts per (team, month) ---------------------------------------------------------

@dataclass
class Tally:
    """The grouped counts and sums for one team (or the organisation) and one month."""

    started: int = 0
    novel: int = 0
    experiment_failures: int = 0
    experiment_repeats: int = 0
    postmortem_failures: int = 0
    postmortem_repeats: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)
    experiment_by_mode: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    lessons_in_window: int = 0
    lessons_applied: int = 0
    resolved: int = 0
    recovery_samples: int = 0
    recovery_hours_sum: float = 0.0
    recovery_median: float | None = None
    recovery_p90: float | None = None
    detect_samples: int = 0
    detect_hours_sum: float = 0.0
    items_due: int = 0
    items_done: int = 0
    items_on_time: int = 0
    items_open: int = 0
    items_in_progress: int = 0
    items_overdue: int = 0
    items_wont_do: int = 0

    ADDITIVE = ("started", "novel", "experiment_failures", "experiment_repeats", "postmortem_failures",
                "postmortem_repeats", "lessons_in_window", "lessons_applied", "resolved", "recovery_samples",
                "recovery_hours_sum", "detect_samples", "detect_hours_sum", "items_due", "items_done",
                "items_on_time", "items_open", "items_in_progress", "items_overdue", "items_wont_do")

    def add(self, other: Tally) -> None:
        """Add another team's disjoint counts (used for the organisation's totals)."""
        for name in self.ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        _add_counts(self.by_mode, other.by_mode)
        _add_counts(self.experiment_by_mode, other.experiment_by_mode)
        _add_counts(self.by_kind, other.by_kind)

    @classmethod
    def from_snapshot(cls, row: dict) -> Tally:
        """A team's counts back from its stored snapshot (``row``: the ``STORED_COUNTS`` columns)."""
        tally = cls(**{name: row[column] for name, column in STORED_COUNTS.items() if name in cls.ADDITIVE})
        tally.by_mode = dict(row["failures_by_mode"] or {})
        tally.experiment_by_mode = dict(row["experiment_failures_by_mode"] or {})
        tally.by_kind = dict(row["failures_by_kind"] or {})
        return tally

    def snapshot_values(self, month: Month) -> dict:
        """Every stored field of the snapshot, derived from the counts by the exact definitions."""
        velocity = experiment_velocity(self.started, month)
        innovation = ratio(self.novel, self.started)
        failures = self.experiment_failures + self.postmortem_failures
        repeats = self.experiment_repeats + self.postmortem_repeats
        repeat_rate = ratio(repeats, failures)
        application_rate = ratio(self.lessons_applied, self.lessons_in_window)
        return {
            "experiments_started": self.started,
            "experiments_novel": self.novel,
            "experiment_velocity": velocity,
            "innovation_index": innovation,
            "failures": failures,
            "experiment_failures": self.experiment_failures,
            "postmortem_failures": self.postmortem_failures,
            "repeat_failures": repeats,
            "experiment_repeat_failures": self.experiment_repeats,
            "postmortem_repeat_failures": self.postmortem_repeats,
            "repeat_failure_rate": repeat_rate,
            "failures_by_mode": _positive(self.by_mode),
            "experiment_failures_by_mode": _positive(self.experiment_by_mode),
            "failures_by_kind": _positive(self.by_kind),
            "lessons_in_window": self.lessons_in_window,
            "lessons_applied": self.lessons_applied,
            "lesson_application_rate": application_rate,
            "postmortems_resolved": self.resolved,
            "recovery_time_samples": self.recovery_samples,
            "failure_recovery_time": (self.recovery_hours_sum / self.recovery_samples
                                      if self.recovery_samples else None),
            "failure_recovery_time_median": self.recovery_median if self.recovery_samples else None,
            "failure_recovery_time_p90": self.recovery_p90 if self.recovery_samples else None,
            "time_to_detect_samples": self.detect_samples,
            "time_to_detect": self.detect_hours_sum / self.detect_samples if self.detect_samples else None,
            "recovery_hours_total": self.recovery_hours_sum,
            "time_to_detect_hours_total": self.detect_hours_sum,
            "action_items_due": self.items_due,
            "action_items_done": self.items_done,
            "action_items_done_on_time": self.items_on_time,
            "action_items_open": self.items_open,
            "action_items_in_progress": self.items_in_progress,
            "action_items_overdue": self.items_overdue,
            "action_items_wont_do": self.items_wont_do,
            "action_item_completion_rate": ratio(self.items_on_time, self.items_due),
            "learning_efficiency_score": learning_efficiency_score(
                lesson_application_rate=application_rate, repeat_failure_rate=repeat_rate,
                innovation_index=innovation, experiment_velocity=velocity),
        }


def _add_counts(counts: dict[str, int], more: dict[str, int]) -> None:
    """Add ``more``'s counts to ``counts``, key by key."""
    for key, count in more.items():
        counts[key] = counts.get(key, 0) + count


def _positive(counts: dict[str, int]) -> dict[str, int]:
    """The counts above zero, by key: what a snapshot stores."""
    return dict(sorted((key, count) for key, count in counts.items() if count > 0))


# Tally attribute → the snapshot column storing it (the organisation is summed from these).
STORED_COUNTS = {
    "started": "experiments_started", "novel": "experiments_novel", "experiment_failures": "experiment_failures",
    "experiment_repeats": "experiment_repeat_failures", "postmortem_failures": "postmortem_failures",
    "postmortem_repeats": "postmortem_repeat_failures", "lessons_in_window": "lessons_in_window",
    "lessons_applied": "lessons_applied", "resolved": "postmortems_resolved",
    "recovery_samples": "recovery_time_samples", "recovery_hours_sum": "recovery_hours_total",
    "detect_samples": "time_to_detect_samples", "detect_hours_sum": "time_to_detect_hours_total",
    "items_due": "action_items_due", "items_done": "action_items_done", "items_on_time": "action_items_done_on_time",
    "items_open": "action_items_open", "items_in_progress": "action_items_in_progress",
    "items_overdue": "action_items_overdue", "items_wont_do": "action_items_wont_do",
    "by_mode": "failures_by_mode", "experiment_by_mode": "experiment_failures_by_mode", "by_kind": "failures_by_kind",
}


def _month_of(expression) -> TruncMonth:
    """The UTC calendar month of a moment, as the date of its first day."""
    return TruncMonth(expression, tzinfo=dt.UTC, output_field=DateField())


@functools.lru_cache(maxsize=4096)
def _as_month(value: dt.date | dt.datetime | str) -> Month:
    """A month truncated by the database: a date or a datetime, or, read from a raw SQLite
    cursor, its text (``YYYY-MM-DD[ HH:MM:SS]``). Cached: a computation reads the same few
    hundred months thousands of times."""
    if isinstance(value, str):
        return Month(int(value[:4]), int(value[5:7]))
    return Month(value.year, value.month)


@dataclass(frozen=True)
class Run:
    """Contiguous months ``first``..``last`` of some teams (``team_ids`` None: every team)."""

    team_ids: tuple[int, ...] | None
    first: Month
    last: Month

    @property
    def months(self) -> list[Month]:
        return Month.range(self.first, self.last)


def month_runs(months: Iterable[MonthLike]) -> list[tuple[Month, Month]]:
    """``months`` as maximal runs of consecutive months: two far months are two runs, never the
    span between them."""
    runs: list[tuple[Month, Month]] = []
    for month in sorted({Month.of(month) for month in months}):
        if runs and runs[-1][1].next() == month:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    return runs


def runs_for(months: Iterable[MonthLike], team_ids: Iterable[int] | None = None) -> list[Run]:
    """The runs of ``months`` for the same teams (None: every team)."""
    teams = None if team_ids is None else tuple(sorted(set(team_ids)))
    return [Run(teams, first, last) for first, last in month_runs(months)]


def runs_for_keys(keys: Iterable[tuple[int, MonthLike]]) -> list[Run]:
    """Team-month keys as contiguous runs per team; teams with the same runs share them (so the
    same months of 50 teams are one run, and the queries stay one each)."""
    by_team: dict[int, set[Month]] = defaultdict(set)
    for team_id, month in keys:
        by_team[team_id].add(Month.of(month))
    teams_by_span: dict[tuple[Month, Month], list[int]] = defaultdict(list)
    for team_id, months in by_team.items():
        for span in month_runs(months):
            teams_by_span[span].append(team_id)
    return [Run(tuple(sorted(teams)), first, last) for (first, last), teams in sorted(teams_by_span.items())]


def _scope(runs: list[Run], field: str, team_path: str = "team_id", *, start: dt.timedelta | None = None,
           dates: bool = False) -> Q:
    """Records of the runs' teams dated (``field``) in the runs' months: one OR of ranges.
    ``start`` moves each range's start back (the lesson window); ``dates`` compares days."""
    scope = Q(pk__in=[])
    for run in runs:
        begin, end = _span(run, start=start, dates=dates)
        span = Q(**{f"{field}__gte": begin, f"{field}__lte" if dates else f"{field}__lt": end})
        scope |= span if run.team_ids is None else span & Q(**{f"{team_path}__in": run.team_ids})
    return scope


def _span(run: Run, *, start: dt.timedelta | None = None, dates: bool = False) -> tuple:
    """A run's range in ``_scope``: first and last day (``dates``), or ``[begin, end)``."""
    if dates:
        return run.first.first_day, run.last.last_day
    return (run.first.end - start if start is not None else run.first.start), run.last.end


def _team_q(team_ids: list[int] | None, path: str = "team_id") -> Q:
    return Q() if team_ids is None else Q(**{f"{path}__in": team_ids})


_MODE_COLUMNS = [(f"mode:{mode}", mode) for mode in FailureMode.values]
_KIND_COLUMNS = [(f"kind:{kind}", kind) for kind in FailureKind.values]


def _split_counts(row: dict, columns: list[tuple[str, str]], total: int) -> dict[str, int]:
    """``{"mode:overfitting": 2, …}`` → ``{"overfitting": 2, …, "unspecified": rest}`` (zeros
    dropped); ``columns``: the row's ``(column, value)`` pairs, ``_MODE_COLUMNS`` or ``_KIND_COLUMNS``."""
    counts = {name: row[column] for column, name in columns if row[column]}
    rest = total - sum(counts.values())
    if rest:
        counts[UNSPECIFIED] = rest
    return counts


def _rows(statement: tuple[str, list] | None) -> list[dict]:
    """A grouped ``values()`` query's rows (``statement``: its SQL and parameters; None: it can
    match nothing) as plain dicts, read from the cursor as they are.

    The engine reads only counts, sums and percentiles (ints, floats, None) and truncated months
    (``_as_month`` takes the backend's raw value), so Django's per-value converters, a sizeable
    share of a full computation's time, are skipped."""
    if statement is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@functools.cache
def _grouped() -> dict[str, QuerySet]:
    """``collect``'s grouped queries without their scope, built once per process: building
    them is most of the time of a small computation (one team-month), so each computation only
    adds its scope (``.filter``, a WHERE condition: the grouping and the aggregates stay)."""
    # One row per team and month: a conditional count per known failure mode and kind; the
    # remainder (blank or unknown values) is "unspecified".
    by_mode = {column: Count("id", filter=Q(failure_mode=mode)) for column, mode in _MODE_COLUMNS}
    by_kind = {column: Count("id", filter=Q(failure_kind=kind)) for column, kind in _KIND_COLUMNS}
    recovery = HoursBetween("resolved_at", "detected_at")
    detection = HoursBetween("detected_at", "occurred_at")
    on_time = Q(status=ActionItemStatus.DONE, completed_at__isnull=False, completed_on__lte=F("due_date"))
    window = {"enters": _month_of("documented_at"), "leaves": _month_of(F("documented_at") + LESSON_WINDOW)}
    first_applied = Subquery(LessonApplication.objects.filter(lesson_id=OuterRef("pk"))
                             .order_by("applied_at").values(month=_month_of("applied_at"))[:1])
    return {
        "started": (Experiment.objects.order_by().values("team_id", month=_month_of("started_at"))
                    .annotate(n=Count("id"), novel=Count("id", filter=Q(is_novel=True)))),
        "failed": (Experiment.objects.filter(outcome=Outcome.FAILURE)
                   .order_by().values("team_id", month=_month_of("ended_at"))
                   .annotate(n=Count("id"), repeats=Count("repeat_of_id"), **by_mode, **by_kind)),
        "occurred": (PostMortem.objects.order_by().values("team_id", month=_month_of("occurred_at"))
                     .annotate(n=Count("id"), repeats=Count("repeat_of_id"), **by_mode)),
        "resolved": (PostMortem.objects.order_by().values("team_id", month=_month_of("resolved_at"))
                     .annotate(n=Count("id"), recovery_n=Count("id", filter=Q(detected_at__isnull=False)),
                               recovery_sum=Sum(recovery),
                               recovery_median=Percentile(recovery, 0.5), recovery_p90=Percentile(recovery, 0.9),
                               detect_n=Count("id", filter=Q(detected_at__isnull=False, occurred_at__isnull=False)),
                               detect_sum=Sum(detection))),
        # A row per lesson: its team, the months it enters and leaves the window; for some teams
        # also the month of its first application, for every team that of every lesson at once.
        "lessons": Lesson.objects.order_by().values("id", "team_id", **window),
        "lessons_applied": Lesson.objects.order_by().values("team_id", **window, applied=first_applied),
        "first_applications": (LessonApplication.objects.order_by().values("lesson_id")
                               .annotate(applied=Min(_month_of("applied_at")))),
        # ``overdue`` depends on the day: each computation adds it.
        "items": (ActionItem.objects.alias(completed_on=TruncDate("completed_at", tzinfo=dt.UTC))
                  .order_by()
                  .values(team_id=F("postmortem__team_id"), month=TruncMonth("due_date", output_field=DateField()))
                  .annotate(n=Count("id"), done=Count("id", filter=Q(status=ActionItemStatus.DONE)),
                            on_time=Count("id", filter=on_time),
                            open=Count("id", filter=Q(status=ActionItemStatus.OPEN)),
                            in_progress=Count("id", filter=Q(status=ActionItemStatus.IN_PROGRESS)),
                            wont_do=Count("id", filter=Q(status=ActionItemStatus.WONT_DO)))),
    }


@dataclass(frozen=True)
class _Scoped:
    """One of ``collect``'s queries: its base (``_grouped``) and the scope it adds (``_scope``
    on ``field``; no field: the base as it is)."""

    base: str
    field: str | None
    team_path: str = "team_id"
    start: dt.timedelta | None = None
    dates: bool = False
    overdue: bool = False  # add the action items overdue on ``today``

    def queryset(self, runs: list[Run], today: dt.date) -> QuerySet:
        queryset = _grouped()[self.base]
        if self.field:
            queryset = queryset.filter(_scope(runs, self.field, self.team_path, start=self.start, dates=self.dates))
        if self.overdue:
            queryset = queryset.annotate(overdue=Count("id", filter=Q(status__in=UNFINISHED, due_date__lt=today)))
        return queryset

    def values(self, runs: list[Run], today: dt.date) -> list:
        """The values the queryset's parameters come from, in a fixed order (see ``_Template``)."""
        values: list = []
        if self.field:
            for run in runs:
                values += [*_span(run, start=self.start, dates=self.dates), *(run.team_ids or ())]
        if self.overdue:
            values.append(today)
        return values


STARTED = _Scoped("started", "started_at")
FAILED = _Scoped("failed", "ended_at")
OCCURRED = _Scoped("occurred", "occurred_at")
RESOLVED = _Scoped("resolved", "resolved_at")
LESSONS = _Scoped("lessons", "documented_at", start=LESSON_WINDOW)
LESSONS_APPLIED = _Scoped("lessons_applied", "documented_at", start=LESSON_WINDOW)
FIRST_APPLICATIONS = _Scoped("first_applications", None)
ITEMS = _Scoped("items", "due_date", "postmortem__team_id", dates=True, overdue=True)


def _adapt(value):
    """A scope value as Django passes it to the database for a date, datetime or id lookup."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    return value


class _Template:
    """A query's SQL compiled once per shape (which runs, and how many teams each names), its
    parameters filled in from the values of each computation's scope.

    Building and compiling the ORM queries costs more than running them for one team-month.
    The SQL of a shape does not depend on the values, only where they go does: the shape is
    compiled twice with two sets of made-up values (years 1980 on, ids from 10⁹), which tells
    the positions of every value apart from the constants; the first real computation of the
    shape is also compiled the ordinary way and must give the same statement, or the shape is
    never templated (nor is a shape whose values cannot all be placed)."""

    MAX_SHAPES = 512
    MAX_RUNS = 100  # the made-up months stay within the years a Month allows
    _cache: ClassVar[dict[tuple, tuple[str, list, list[tuple[int, int]]] | None]] = {}
    _verified: ClassVar[set[tuple]] = set()

    @classmethod
    def statement(cls, query: _Scoped, runs: list[Run], today: dt.date) -> tuple[str, list] | None:
        """``query``'s SQL and parameters for ``runs`` (None when it can match nothing)."""
        shape = (connection.vendor, query.base, query.field and tuple(
            None if run.team_ids is None else len(run.team_ids) for run in runs))
        if shape not in cls._cache and len(cls._cache) < cls.MAX_SHAPES:
            cls._cache[shape] = cls._learn(query, shape)
        template = cls._cache.get(shape)
        if template is None:
            return _compile(query.queryset(runs, today))
        sql, constants, positions = template
        values = [_adapt(value) for value in query.values(runs, today)]
        params = list(constants)
        for position, index in positions:
            params[position] = values[index]
        if shape not in cls._verified:
            if _compile(query.queryset(runs, today)) != (sql, params):
                logger.warning("metrics: the %s query of shape %s cannot be templated", query.base, shape)
                cls._cache[shape] = None
                return _compile(query.queryset(runs, today))
            cls._verified.add(shape)
        return sql, params

    @staticmethod
    def _learn(query: _Scoped, shape: tuple) -> tuple[str, list, list[tuple[int, int]]] | None:
        team_counts = shape[2] or ()
        if len(team_counts) > _Template.MAX_RUNS:
            return None

        def made_up(offset: int) -> tuple[list[Run], dt.date]:
            runs = [Run(None if count is None else tuple(10**9 + offset * 10**8 + 1000 * index + number
                                                         for number in range(count)),
                        Month(1980 + 8 * index + 4 * offset, 1), Month(1980 + 8 * index + 4 * offset, 3))
                    for index, count in enumerate(team_counts)]
            return runs, dt.date(1975 + offset, 1, 1)

        compiled, adapted = [], []
        for offset in (0, 1):
            runs, today = made_up(offset)
            statement = _compile(query.queryset(runs, today))
            if statement is None:
                return None
            compiled.append(statement)
            adapted.append([_adapt(value) for value in query.values(runs, today)])
        (sql, params), (other_sql, other_params) = compiled
        if sql != other_sql or len(params) != len(other_params):
            return None
        positions = []
        for position, (first, second) in enumerate(zip(params, other_params, strict=True)):
            if first == second:
                continue
            matches = [index for index, value in enumerate(adapted[0]) if value == first]
            if len(matches) != 1 or adapted[1][matches[0]] != second:
                return None
            positions.append((position, matches[0]))
        if {index for _, index in positions} != set(range(len(adapted[0]))):
            return None
        return sql, list(params), positions


def _compile(queryset: QuerySet) -> tuple[str, list] | None:
    """A queryset's SQL and parameters, None when it can match nothing."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, list(params)


def collect(runs: list[Run], today: dt.date | None = None) -> dict[Key, Tally]:
    """Grouped counts for the teams and months of ``runs``, in six queries whatever their number."""
    today = today or timezone.localdate()
    tallies: dict[Key, Tally] = defaultdict(Tally)
    if not runs:
        return tallies
    for row in _rows(_Template.statement(STARTED, runs, today)):
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.started, tally.novel = row["n"], row["novel"]

    for row in _rows(_Template.statement(FAILED, runs, today)):
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.experiment_failures, tally.experiment_repeats = row["n"], row["repeats"]
        modes = _split_counts(row, _MODE_COLUMNS, row["n"])
        _add_counts(tally.by_mode, modes)
        _add_counts(tally.experiment_by_mode, modes)
        _add_counts(tally.by_kind, _split_counts(row, _KIND_COLUMNS, row["n"]))

    for row in _rows(_Template.statement(OCCURRED, runs, today)):
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.postmortem_failures, tally.postmortem_repeats = row["n"], row["repeats"]
        _add_counts(tally.by_mode, _split_counts(row, _MODE_COLUMNS, row["n"]))

    for row in _rows(_Template.statement(RESOLVED, runs, today)):
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.resolved = row["n"]
        tally.recovery_samples, tally.recovery_hours_sum = row["recovery_n"], row["recovery_sum"] or 0.0
        tally.recovery_median, tally.recovery_p90 = row["recovery_median"], row["recovery_p90"]
        tally.detect_samples, tally.detect_hours_sum = row["detect_n"], row["detect_sum"] or 0.0

    _collect_lessons(tallies, runs, today)

    for row in _rows(_Template.statement(ITEMS, runs, today)):
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.items_due, tally.items_done, tally.items_on_time = row["n"], row["done"], row["on_time"]
        tally.items_open, tally.items_in_progress = row["open"], row["in_progress"]
        tally.items_overdue, tally.items_wont_do = row["overdue"], row["wont_do"]

    return tallies


def _collect_lessons(tallies: dict[Key, Tally], runs: list[Run], today: dt.date) -> None:
    """Window and applied counts for the runs' months from one query over lessons.

    The lessons read are those documented in some run's window span, ``[first.end − 365 days,
    last.end)``. Each adds +1 to the window count at ``month(d)`` and −1 at ``month(d + 365
    days)``; when first applied at ``a`` before it leaves the window, it adds +1 to the applied
    count at ``month(max(d, a)) = max(month(d), month(a))`` and −1 when it leaves. The database
    sums those events per team and month (``LESSON_EVENTS_SQL``: a row per team and month with
    events, not per lesson), and a running sum over them is exact for every month of a run;
    lessons read for another run add +1 and −1 before it or nothing until after it.

    For some teams, each lesson's first application is one index lookup (``ORDER BY applied_at
    LIMIT 1`` on ``(lesson_id, applied_at)``), made once per lesson, not a scan of every
    application; for every team, the first applications are one grouped query joined to the
    lessons. Its month is the month of the first application: truncation keeps the order.
    """
    if all(run.team_ids is None for run in runs):
        # Every team: one grouped pass over the applications beats a lookup per lesson.
        lessons = _Template.statement(LESSONS, runs, today)
        first = _Template.statement(FIRST_APPLICATIONS, runs, today)
        if lessons is None or first is None:
            return
        sql = (f"SELECT lesson_row.team_id, lesson_row.enters, lesson_row.leaves, first_application.applied "
               f"FROM ({lessons[0]}) lesson_row LEFT JOIN ({first[0]}) first_application "
               f"ON first_application.lesson_id = lesson_row.id")
        params = [*lessons[1], *first[1]]
    else:
        statement = _Template.statement(LESSONS_APPLIED, runs, today)
        if statement is None:
            return
        sql, params = statement
    events: dict[int, dict[Month, tuple[int, int]]] = defaultdict(dict)  # team → month → changes
    with connection.cursor() as cursor:
        cursor.execute(LESSON_EVENTS_SQL.format(lessons=sql), params)
        for team_id, month, window_change, applied_change in cursor.fetchall():
            events[team_id][_as_month(month)] = (int(window_change), int(applied_change))

    for team_id, team_events in events.items():
        wanted = {month for run in runs if run.team_ids is None or team_id in run.team_ids for month in run.months}
        if not wanted:
            continue
        in_window, applied = 0, 0
        for month in Month.range(min(min(team_events), min(wanted)), max(wanted)):
            window_change, applied_change = team_events.get(month, (0, 0))
            in_window += window_change
            applied += applied_change
            if month in wanted and (in_window or applied):
                tally = tallies[team_id, month]
                tally.lessons_in_window, tally.lessons_applied = in_window, applied


# The lesson window's events summed per team and month, over ``lessons`` (the ORM's SQL: one row
# per lesson with its team, the months it ``enters`` and ``leaves`` the window and the month it
# was first ``applied``, NULL if never). Plain SQL both databases run alike: the months are
# compared as the same backend's truncations of moments.
_COUNTS_FROM = "CASE WHEN applied > enters THEN applied ELSE enters END"
LESSON_EVENTS_SQL = (
    "WITH lessons AS ({lessons}), events AS ("
    " SELECT team_id, enters AS event_month, 1 AS window_change, 0 AS applied_change FROM lessons"
    " UNION ALL SELECT team_id, leaves, -1, 0 FROM lessons"
    f" UNION ALL SELECT team_id, {_COUNTS_FROM}, 0, 1 FROM lessons"
    f" WHERE applied IS NOT NULL AND {_COUNTS_FROM} < leaves"
    " UNION ALL SELECT team_id, leaves, 0, -1 FROM lessons"
    f" WHERE applied IS NOT NULL AND {_COUNTS_FROM} < leaves)"
    " SELECT team_id, event_month, SUM(window_change), SUM(applied_change) FROM events"
    " GROUP BY team_id, event_month"
)


def _organisation_percentiles(months: Iterable[Month]) -> dict[Month, tuple]:
    """The organisation's median and 90th percentile recovery time per month: one query over
    every post-mortem resolved in those months (percentiles do not add up from teams')."""
    runs = runs_for(months)
    if not runs:
        return {}
    recovery = HoursBetween("resolved_at", "detected_at")
    rows = (PostMortem.objects.filter(_scope(runs, "resolved_at")).order_by()
            .values(month=_month_of("resolved_at"))
            .annotate(median=Percentile(recovery, 0.5), p90=Percentile(recovery, 0.9)))
    return {_as_month(row["month"]): (row["median"], row["p90"]) for row in _rows(_compile(rows))}


def organisation_tally(team_tallies: Iterable[tuple[int, Tally]], percentiles: tuple) -> Tally:
    """The organisation's month: the sum of its teams' disjoint counts, added in team order (so
    a full and an incremental computation give the same floats), with its own percentiles."""
    total = Tally()
    for _team_id, tally in sorted(team_tallies, key=lambda item: item[0]):
        total.add(tally)
    total.recovery_median, total.recovery_p90 = percentiles
    return total


# What a team-month without any record computes from (never modified).
_NOTHING = Tally()


# --- Snapshots ------------------------------------------------------------------------------

def compute(months: Iterable[MonthLike], team_ids: list[int] | None = None,
            today: dt.date | None = None) -> dict[Key, dict]:
    """Snapshot values for every (team, month) requested, zeros included, and — when
    ``team_ids`` is None (every team) — the organisation's, keyed ``(None, month)``."""
    months = sorted({Month.of(month) for month in months})
    if not months:
        return {}
    tallies = collect(runs_for(months, team_ids), today=today)
    teams = team_ids if team_ids is not None else list(Team.objects.values_list("id", flat=True))
    values: dict[Key, dict] = {}
    for team_id in teams:
        for month in months:
            values[team_id, month] = tallies.get((team_id, month), _NOTHING).snapshot_values(month)
    if team_ids is None:
        by_month: dict[Month, list[tuple[int, Tally]]] = defaultdict(list)
        for (team_id, month), tally in tallies.items():
            by_month[month].append((team_id, tally))
        percentiles = _organisation_percentiles(months)
        for month in months:
            organisation = organisation_tally(by_month.get(month, []), percentiles.get(month, (None, None)))
            values[None, month] = organisation.snapshot_values(month)
    return values


def recompute(months: Iterable[MonthLike], team_ids: list[int] | None = None, *,
              computation: str = Computation.MANUAL) -> int:
    """Compute and store snapshots (see ``compute``) for every team (or ``team_ids``) over
    ``months``; return how many were computed. ``computation`` is stored with them.

    Idempotent: rows are upserted on (team, month), and a row that would be written exactly as
    it is stored is left alone (see ``_store``). Each row records the ``dirty_version`` it had
    before the computation started, so writes that land meanwhile keep it stale.
    """
    months = sorted({Month.of(month) for month in months})
    if not months:
        return 0
    started = time.perf_counter()
    scope = MetricSnapshot.objects.filter(month__in=[month.first_day for month in months])
    if team_ids is not None:
        scope = scope.filter(team_id__in=team_ids)
    stored = _read_stored(scope)
    values = compute(months, team_ids)
    with transaction.atomic():
        written = _store(values, stored, computation)
    logger.debug("metrics: %d snapshots for %s teams over %d months in %.0f ms", written,
                 "all" if team_ids is None else len(team_ids), len(months), (time.perf_counter() - started) * 1000)
    return written


def recompute_keys(keys: Iterable[tuple[int | None, MonthLike]], *, computation: str = Computation.EDIT) -> int:
    """Recompute exactly ``keys`` — (team id, month) pairs, team None for the organisation —
    and return how many snapshots were computed.

    Team keys are grouped into contiguous runs per team (one set of grouped queries for all of
    them). An organisation month is the sum of its teams' stored counts plus one query for its
    median and 90th percentile; so its teams' snapshots of that month that are missing or stale
    are recomputed first. Versions are read before anything is computed (see ``recompute``).
    """
    team_keys: set[tuple[int, Month]] = set()
    organisation_months: set[Month] = set()
    for team_id, month in keys:
        if team_id is None:
            organisation_months.add(Month.of(month))
        else:
            team_keys.add((team_id, Month.of(month)))
    if not team_keys and not organisation_months:
        return 0
    started = time.perf_counter()
    months = {month for _, month in team_keys} | organisation_months
    scope = MetricSnapshot.objects.filter(month__in=[month.first_day for month in months])
    if not organisation_months:
        scope = scope.filter(team_id__in={team_id for team_id, _ in team_keys})
    stored = _read_stored(scope)
    fresh = {key for key, row in stored.items() if row.fresh}
    if organisation_months:
        team_ids = list(Team.objects.order_by().values_list("id", flat=True))
        team_keys |= {(team_id, month) for team_id in team_ids for month in organisation_months
                      if (team_id, month) not in fresh}
    tallies = collect(runs_for_keys(team_keys))
    values = {key: tallies.get(key, _NOTHING).snapshot_values(key[1]) for key in team_keys}
    with transaction.atomic():
        written = _store(values, stored, computation)
        if organisation_months:
            written += _store(_organisation_from_teams(sorted(organisation_months)), stored, computation)
    logger.debug("metrics: %d snapshots (%d keys asked) in %.0f ms", written, len(team_keys) + len(organisation_months),
                 (time.perf_counter() - started) * 1000)
    return written


def _organisation_from_teams(months: list[Month]) -> dict[Key, dict]:
    """The organisation's snapshot values for ``months`` from its teams' stored snapshots."""
    columns = list(STORED_COUNTS.values())
    by_month: dict[Month, list[tuple[int, Tally]]] = defaultdict(list)
    rows = (MetricSnapshot.objects.filter(team__isnull=False, month__in=[month.first_day for month in months])
            .order_by().values("team_id", "month", *columns))
    for row in rows:
        by_month[Month.of(row["month"])].append((row["team_id"], Tally.from_snapshot(row)))
    percentiles = _organisation_percentiles(months)
    return {(None, month): organisation_tally(by_month.get(month, []), percentiles.get(month, (None, None)))
            .snapshot_values(month) for month in months}


@dataclass(frozen=True, slots=True)
class _Stored:
    """A snapshot row as read before computing: its ``dirty_version``, whether it was fresh, and
    its ``_COMPARED`` values (what an unchanged recomputation would write again)."""

    dirty_version: int
    fresh: bool
    compared: tuple


def _read_stored(scope) -> dict[Key, _Stored]:
    """The snapshot rows of ``scope`` (one query, read from the cursor as they are: JSON is
    decoded, each distinct text once; everything else compares as the driver returns it)."""
    names = ["team_id", "month", "dirty_version", "was_fresh", *(f.attname for f in _COMPARED)]
    statement = _compile(scope.order_by().annotate(was_fresh=_WAS_FRESH).values_list(*names))
    decoded: dict[str, object] = {}
    rows: dict[Key, _Stored] = {}
    if statement is None:
        return rows
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        for team_id, month, dirty, was_fresh, *compared in cursor.fetchall():
            for index in _JSON_POSITIONS:
                if isinstance(text := compared[index], str):
                    if text not in decoded:
                        decoded[text] = json.loads(text)
                    compared[index] = decoded[text]
            rows[team_id, _as_month(month)] = _Stored(dirty, bool(was_fresh), tuple(compared))
    return rows


# Whether a row was fresh when read: the models' ``STALE`` rule, negated, in the same query.
_WAS_FRESH = ExpressionWrapper(~STALE, output_field=BooleanField())


def _store(values: dict[Key, dict], stored: dict[Key, _Stored], computation: str) -> int:
    """Upsert snapshot values with the versions seen before computing (``stored``) and who
    computed them (inside the caller's transaction); return how many were computed.

    A row that would be written exactly as it was read (same figures, same computation, same
    version) is not written at all: no statement when nothing changed, and its ``computed_at``
    stays the moment these figures were first stored by that computation. A row that changed
    since it was read is still compared by the upsert itself."""
    rows = []
    for (team_id, month), figures in values.items():
        before = stored.get((team_id, month))
        version = before.dirty_version if before else 0
        if before is not None and before.compared == (*_FIGURES(figures), computation, version):
            continue
        rows.append({"team_id": team_id, "month": month.first_day, **figures, "computed_by": computation,
                     "dirty_version": version, "computed_version": version})
    now = timezone.now()
    _upsert([row for row in rows if row["team_id"] is not None], organisation=False, now=now)
    _upsert([row for row in rows if row["team_id"] is None], organisation=True, now=now)
    return len(values)


_FIELDS = [f for f in MetricSnapshot._meta.concrete_fields if not f.primary_key]
# Every row but its ``computed_at``: that is one parameter, the same for all rows of a statement.
_ROW_FIELDS = [f for f in _FIELDS if f.attname != "computed_at"]
# Compared with the stored row: a row whose figures, computation and version are all unchanged
# is left as it is (no new row version, no index or WAL traffic), so it keeps its computed_at.
_BOOKKEEPING = ("computed_by", "computed_version")
_NOT_COMPARED = {"team_id", "month", "dirty_version", "computed_at", *_BOOKKEEPING}
_COMPARED = [*(f for f in _FIELDS if f.attname not in _NOT_COMPARED),
             *(MetricSnapshot._meta.get_field(name) for name in _BOOKKEEPING)]
# A computation's figures (``Tally.snapshot_values``) in ``_COMPARED`` order, bookkeeping aside.
_FIGURES = operator.itemgetter(*(f.attname for f in _COMPARED[:-len(_BOOKKEEPING)]))
_JSON_POSITIONS = [index for index, f in enumerate(_COMPARED) if isinstance(f, JSONField)]


def _preparers() -> list:
    """Per column, how to turn a Python value into a query parameter: only JSON and datetimes
    need the backend's adaptation (ints, floats, dates, strings and None pass as they are)."""
    preparers = []
    for f in _FIELDS:
        if isinstance(f, JSONField | DateTimeField):
            preparers.append(lambda value, f=f: f.get_db_prep_save(value, connection))
        else:
            preparers.append(None)
    return preparers


def _batch_size() -> int:
    limit = connection.features.max_query_params or 65535
    return max(1, min(1000, limit // len(_FIELDS)))


# The order in which snapshot rows are written and locked, by every writer: team rows before
# the organisation's (``_upsert`` is called for teams first), then by team and month.
LOCK_ORDER = (F("team_id").asc(nulls_last=True), "month")


def _upsert(rows: list[dict], *, organisation: bool, now: dt.datetime) -> None:
    """Set-based INSERT … ON CONFLICT (partial unique index) DO UPDATE … WHERE changed: on
    PostgreSQL one statement whose rows travel as a single JSON parameter (an array of
    positional arrays, ``jsonb_array_elements``: no per-row or per-value cost in the driver, no
    repeated keys); elsewhere multi-row ``VALUES`` of up to 1,000 rows.

    ``dirty_version`` is only written for new rows: marks added while computing must survive.
    A stored row equal in every ``_COMPARED`` column is not rewritten (it stays locked until
    the commit all the same, so ``LOCK_ORDER`` holds).
    """
    if not rows:
        return
    rows = sorted(rows, key=lambda row: (row["team_id"] or 0, row["month"]))  # LOCK_ORDER
    quote = connection.ops.quote_name
    table = quote(MetricSnapshot._meta.db_table)
    keep_on_update = {"team_id", "month", "dirty_version"}
    updates = ", ".join(f"{quote(f.column)} = excluded.{quote(f.column)}" for f in _FIELDS
                        if f.column not in keep_on_update)
    target = (f"({quote('month')}) WHERE {quote('team_id')} IS NULL" if organisation
              else f"({quote('team_id')}, {quote('month')}) WHERE {quote('team_id')} IS NOT NULL")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            stored = ", ".join(f"{table}.{quote(f.column)}" for f in _COMPARED)
            fresh = ", ".join(f"excluded.{quote(f.column)}" for f in _COMPARED)
            conflict = f"ON CONFLICT {target} DO UPDATE SET {updates} WHERE ({stored}) IS DISTINCT FROM ({fresh})"
            columns = ", ".join(quote(f.column) for f in [*_ROW_FIELDS, MetricSnapshot._meta.get_field("computed_at")])
            selected = ", ".join(f"(r -> {index})" if isinstance(f, JSONField)
                                 else f"(r ->> {index})::{f.db_type(connection)}"
                                 for index, f in enumerate(_ROW_FIELDS))
            payload = json.dumps([[row["month"].isoformat() if f.attname == "month" else row[f.attname]
                                   for f in _ROW_FIELDS] for row in rows], separators=(",", ":"))
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {selected}, %s::timestamptz "
                           f"FROM jsonb_array_elements(%s::jsonb) AS r {conflict}", [now, payload])
            return
        changed = " OR ".join(f"{table}.{quote(f.column)} IS NOT excluded.{quote(f.column)}" for f in _COMPARED)
        conflict = f"ON CONFLICT {target} DO UPDATE SET {updates} WHERE {changed}"
        columns = ", ".join(quote(f.column) for f in _FIELDS)
        row_placeholder = "(" + ", ".join(["%s"] * len(_FIELDS)) + ")"
        preparers = list(zip(_FIELDS, _preparers(), strict=True))
        size = _batch_size()
        for index in range(0, len(rows), size):
            batch = [{**row, "computed_at": now} for row in rows[index:index + size]]
            params = [prepare(row[f.attname]) if prepare else row[f.attname]
                      for row in batch for f, prepare in preparers]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_placeholder] * len(batch))} "
                           f"{conflict}", params)


# --- What to compute -------------------------------------------------------------------------

def data_months(team_ids: list[int] | None = None, until: MonthLike | None = None) -> list[Month]:
    """Every month from the first one with any record (of ``team_ids``) to ``until`` (default:
    the current month); empty when there are no records."""
    until = Month.of(until) if until else Month.current()
    earliest = [
        *Experiment.objects.filter(_team_q(team_ids)).aggregate(s=Min("started_at"), e=Min("ended_at")).values(),
        *PostMortem.objects.filter(_team_q(team_ids)).aggregate(o=Min("occurred_at"), r=Min("resolved_at")).values(),
        *Lesson.objects.filter(_team_q(team_ids)).aggregate(d=Min("documented_at")).values(),
        *ActionItem.objects.filter(_team_q(team_ids, "postmortem__team_id")).aggregate(d=Min("due_date")).values(),
    ]
    moments = [Month.of(moment) for moment in earliest if moment is not None]
    if not moments:
        return []
    return Month.range(min(min(moments), until), until)


def recompute_all(until: MonthLike | None = None, *, computation: str = Computation.MANUAL) -> int:
    """Backfill: every team and the organisation, over every month with data."""
    return recompute(data_months(until=until), computation=computation)


def recompute_stale(*, computation: str = Computation.EDIT) -> int:
    """Recompute exactly the stale or never-computed snapshots (``recompute_keys``): a write
    marks its team's months and the organisation's, so only those are computed."""
    keys = list(MetricSnapshot.objects.stale().order_by().values_list("team_id", "month"))
    return recompute_keys(keys, computation=computation) if keys else 0


def mark_stale(team_id: int, months: Iterable[MonthLike], now: dt.datetime | None = None) -> None:
    """Record that ``team_id``'s records (and so the organisation's) changed in ``months``
    (:class:`Month` values or the first days the snapshots store).

    Two statements whatever happens next: create missing snapshot rows (never computed) up to
    the current month, then bump ``dirty_version`` on the team's and the organisation's existing
    rows for every month given. Later months (a lesson's window reaches a year ahead) get no new
    rows: a month nobody computed yet is computed fresh when it is first needed, and one already
    computed (say for an action item due then) is marked stale like any other.
    """
    months = sorted({Month.of(month) for month in months})
    if not months:
        return
    current = Month.current(now)
    # Rows are created and locked in the one order every writer uses (see ``LOCK_ORDER``), so
    # concurrent writers and a recompute's upsert wait for each other instead of deadlocking.
    with transaction.atomic():
        MetricSnapshot.objects.bulk_create(
            [MetricSnapshot(team_id=key, month=month.first_day) for key in (team_id, None)
             for month in months if month <= current],
            ignore_conflicts=True,
        )
        locked = list(MetricSnapshot.objects.filter(Q(team_id=team_id) | Q(team__isnull=True),
                                                    month__in=[month.first_day for month in months])
                      .order_by(*LOCK_ORDER).select_for_update().values_list("pk", flat=True))
        MetricSnapshot.objects.filter(pk__in=locked).update(dirty_version=F("dirty_version") + 1)
