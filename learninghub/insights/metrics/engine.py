"""The learning metrics engine: exact definitions (DESIGN.md, "Metrics — exact definitions"),
computed with set-based aggregates grouped by team and month in the database.

Periods are UTC calendar months ``[start, end)``. One computation runs a fixed number of
grouped queries whatever the number of teams, months or records:

1. experiments started, per team and month of ``started_at`` (and how many are novel);
2. failed experiments, per team, month of ``ended_at``, failure mode and kind (and how many repeat);
3. post-mortems, per team, month of ``occurred_at`` and failure mode (and how many repeat);
4. post-mortems resolved, per team and month of ``resolved_at``: sums of recovery and detection
   hours, their median and 90th percentile (``percentile_cont``; see ``metrics.sql``);
5. lessons entering and leaving the 365-day window, per team and month (see below);
6. first applications of those lessons, per team and month they start to count;
7. action items, per team and month of ``due_date``;

then upserts the snapshots (one multi-row statement per batch). Python only combines the
grouped rows (a few per team and month), never records.

**What is computed.** A full computation (``recompute``) covers every team, or some, over some
months; far-apart months are separate runs (never the span between them). The incremental one
(``recompute_keys``, what runs after a write) covers exactly the stale (team, month) keys: each
team's months grouped into contiguous runs, all runs in the same seven queries (each an OR of
team-and-date ranges).

**The lesson window.** A lesson documented at ``d`` is in the window of month M (ending at E)
when ``E − 365 days ≤ d < E``, i.e. for the months from ``month(d)`` up to, not including,
``month(d + 365 days)``. It counts as applied from ``month(max(d, a))`` where ``a`` is its
first application (``applied_at < E``). So each lesson adds +1 to the window count at
``month(d)`` and −1 at ``month(d + 365 days)`` (and likewise for the applied count); a running
sum over the grouped events gives every month's counts in one pass.

**The organisation**: every record belongs to exactly one team, so the organisation's counts are
the sums of the disjoint per-team counts (not averages of team rates) — of the same queries in a
full computation, of the teams' stored snapshots in an incremental one (which stores the hour
sums behind the means for that) — its ratios and means are re-derived from those totals, and
its median and 90th percentile come from their own query over all its post-mortems.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder
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
    Subquery,
    Sum,
)
from django.db.models.functions import Greatest, TruncDate, TruncMonth
from django.utils import timezone

from experiments.models import Experiment, FailureKind, Lesson, LessonApplication, Outcome
from learninghub.insights.metrics.models import Computation, MetricSnapshot
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
    return started * 7 / Month.of(month).days


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
    by_mode: Counter = field(default_factory=Counter)
    experiment_by_mode: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
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
        self.by_mode.update(other.by_mode)
        self.experiment_by_mode.update(other.experiment_by_mode)
        self.by_kind.update(other.by_kind)

    @classmethod
    def from_snapshot(cls, row: dict) -> Tally:
        """A team's counts back from its stored snapshot (``row``: the ``STORED_COUNTS`` columns)."""
        tally = cls(**{name: row[column] for name, column in STORED_COUNTS.items() if name in cls.ADDITIVE})
        tally.by_mode = Counter(row["failures_by_mode"] or {})
        tally.experiment_by_mode = Counter(row["experiment_failures_by_mode"] or {})
        tally.by_kind = Counter(row["failures_by_kind"] or {})
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
            "failures_by_mode": dict(sorted((+self.by_mode).items())),
            "experiment_failures_by_mode": dict(sorted((+self.experiment_by_mode).items())),
            "failures_by_kind": dict(sorted((+self.by_kind).items())),
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


def _as_month(value: dt.date | dt.datetime) -> Month:
    """A month truncated by the database (a date; some backends hand back a datetime)."""
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
        if dates:
            span = Q(**{f"{field}__gte": run.first.first_day, f"{field}__lte": run.last.last_day})
        else:
            begin = run.first.end - start if start is not None else run.first.start
            span = Q(**{f"{field}__gte": begin, f"{field}__lt": run.last.end})
        scope |= span if run.team_ids is None else span & Q(**{f"{team_path}__in": run.team_ids})
    return scope


def _team_q(team_ids: list[int] | None, path: str = "team_id") -> Q:
    return Q() if team_ids is None else Q(**{f"{path}__in": team_ids})


def _split_counts(row: dict, prefix: str, total: int) -> Counter:
    """``{"mode:overfitting": 2, …}`` → ``{"overfitting": 2, …, "unspecified": rest}`` (zeros dropped)."""
    counts = Counter({key.removeprefix(prefix): value for key, value in row.items()
                      if key.startswith(prefix) and value})
    rest = total - sum(counts.values())
    if rest:
        counts[UNSPECIFIED] = rest
    return counts


def collect(runs: list[Run], today: dt.date | None = None) -> dict[Key, Tally]:
    """Grouped counts for the teams and months of ``runs``, in seven queries whatever their number."""
    today = today or timezone.localdate()
    tallies: dict[Key, Tally] = defaultdict(Tally)
    if not runs:
        return tallies

    started = (Experiment.objects.filter(_scope(runs, "started_at"))
               .order_by().values("team_id", month=_month_of("started_at"))
               .annotate(n=Count("id"), novel=Count("id", filter=Q(is_novel=True))))
    for row in started:
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.started, tally.novel = row["n"], row["novel"]

    # One row per team and month: a conditional count per known failure mode and kind; the
    # remainder (blank or unknown values) is "unspecified".
    by_mode = {f"mode:{mode}": Count("id", filter=Q(failure_mode=mode)) for mode in FailureMode.values}
    by_kind = {f"kind:{kind}": Count("id", filter=Q(failure_kind=kind)) for kind in FailureKind.values}
    failed = (Experiment.objects.filter(_scope(runs, "ended_at"), outcome=Outcome.FAILURE)
              .order_by().values("team_id", month=_month_of("ended_at"))
              .annotate(n=Count("id"), repeats=Count("repeat_of_id"), **by_mode, **by_kind))
    for row in failed:
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.experiment_failures, tally.experiment_repeats = row["n"], row["repeats"]
        modes = _split_counts(row, "mode:", row["n"])
        tally.by_mode.update(modes)
        tally.experiment_by_mode.update(modes)
        tally.by_kind.update(_split_counts(row, "kind:", row["n"]))

    occurred = (PostMortem.objects.filter(_scope(runs, "occurred_at"))
                .order_by().values("team_id", month=_month_of("occurred_at"))
                .annotate(n=Count("id"), repeats=Count("repeat_of_id"), **by_mode))
    for row in occurred:
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.postmortem_failures, tally.postmortem_repeats = row["n"], row["repeats"]
        tally.by_mode.update(_split_counts(row, "mode:", row["n"]))

    recovery = HoursBetween("resolved_at", "detected_at")
    detection = HoursBetween("detected_at", "occurred_at")
    resolved = (PostMortem.objects.filter(_scope(runs, "resolved_at"))
                .order_by().values("team_id", month=_month_of("resolved_at"))
                .annotate(n=Count("id"), recovery_n=Count("id", filter=Q(detected_at__isnull=False)),
                          recovery_sum=Sum(recovery),
                          recovery_median=Percentile(recovery, 0.5), recovery_p90=Percentile(recovery, 0.9),
                          detect_n=Count("id", filter=Q(detected_at__isnull=False, occurred_at__isnull=False)),
                          detect_sum=Sum(detection)))
    for row in resolved:
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.resolved = row["n"]
        tally.recovery_samples, tally.recovery_hours_sum = row["recovery_n"], row["recovery_sum"] or 0.0
        tally.recovery_median, tally.recovery_p90 = row["recovery_median"], row["recovery_p90"]
        tally.detect_samples, tally.detect_hours_sum = row["detect_n"], row["detect_sum"] or 0.0

    _collect_lessons(tallies, runs)

    on_time = Q(status=ActionItemStatus.DONE, completed_at__isnull=False,
                completed_on__lte=F("due_date"))
    items = (ActionItem.objects.filter(_scope(runs, "due_date", "postmortem__team_id", dates=True))
             .alias(completed_on=TruncDate("completed_at", tzinfo=dt.UTC))
             .order_by()
             .values(team_id=F("postmortem__team_id"), month=TruncMonth("due_date", output_field=DateField()))
             .annotate(n=Count("id"), done=Count("id", filter=Q(status=ActionItemStatus.DONE)),
                       on_time=Count("id", filter=on_time),
                       open=Count("id", filter=Q(status=ActionItemStatus.OPEN)),
                       in_progress=Count("id", filter=Q(status=ActionItemStatus.IN_PROGRESS)),
                       overdue=Count("id", filter=Q(status__in=UNFINISHED, due_date__lt=today)),
                       wont_do=Count("id", filter=Q(status=ActionItemStatus.WONT_DO))))
    for row in items:
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.items_due, tally.items_done, tally.items_on_time = row["n"], row["done"], row["on_time"]
        tally.items_open, tally.items_in_progress = row["open"], row["in_progress"]
        tally.items_overdue, tally.items_wont_do = row["overdue"], row["wont_do"]

    return tallies


def _collect_lessons(tallies: dict[Key, Tally], runs: list[Run]) -> None:
    """Window and applied counts for the runs' months from one grouped query over lessons.

    Each lesson's first application is one index lookup (``ORDER BY applied_at LIMIT 1`` on
    ``(lesson_id, applied_at)``), not a scan of every application. The lessons read are those
    documented in some run's window span, ``[first.end − 365 days, last.end)``; a running sum of
    +1 at ``month(d)`` and −1 at ``month(d + 365 days)`` (likewise from ``month(max(d, a))`` for
    the applied count) is exact for every month of a run, and lessons read for another run add
    +1 and −1 before it or nothing until after it.
    """
    first_applied = Subquery(LessonApplication.objects.filter(lesson_id=OuterRef("pk"))
                             .order_by("applied_at").values("applied_at")[:1])
    lessons = (Lesson.objects.filter(_scope(runs, "documented_at", start=LESSON_WINDOW))
               .annotate(first_applied=first_applied)
               .order_by()
               .values("team_id", enters=_month_of("documented_at"),
                       leaves=_month_of(F("documented_at") + LESSON_WINDOW),
                       applied=ExpressionWrapper(Q(first_applied__isnull=False), output_field=BooleanField()),
                       counts_from=_month_of(Greatest("documented_at", "first_applied")))
               .annotate(n=Count("id")))
    events: dict[int, Counter] = defaultdict(Counter)  # team → Month → change of the window count
    applied_events: dict[int, Counter] = defaultdict(Counter)
    for row in lessons:
        team_id, enters, leaves_at = row["team_id"], _as_month(row["enters"]), _as_month(row["leaves"])
        events[team_id][enters] += row["n"]
        events[team_id][leaves_at] -= row["n"]
        if row["applied"] and row["counts_from"] is not None:
            counts_from = _as_month(row["counts_from"])
            if counts_from < leaves_at:  # applied before the lesson left the window
                applied_events[team_id][counts_from] += row["n"]
                applied_events[team_id][leaves_at] -= row["n"]

    for team_id in events.keys() | applied_events.keys():
        wanted = {month for run in runs if run.team_ids is None or team_id in run.team_ids for month in run.months}
        if not wanted:
            continue
        in_window, applied = 0, 0
        team_events, team_applied = events[team_id], applied_events[team_id]
        span_start = min(min(team_events.keys() | team_applied.keys()), min(wanted))
        for month in Month.range(span_start, max(wanted)):
            in_window += team_events.get(month, 0)
            applied += team_applied.get(month, 0)
            if month in wanted and (in_window or applied):
                tally = tallies[team_id, month]
                tally.lessons_in_window, tally.lessons_applied = in_window, applied


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
    return {_as_month(row["month"]): (row["median"], row["p90"]) for row in rows}


def organisation_tally(team_tallies: Iterable[tuple[int, Tally]], percentiles: tuple) -> Tally:
    """The organisation's month: the sum of its teams' disjoint counts, added in team order (so
    a full and an incremental computation give the same floats), with its own percentiles."""
    total = Tally()
    for _team_id, tally in sorted(team_tallies, key=lambda item: item[0]):
        total.add(tally)
    total.recovery_median, total.recovery_p90 = percentiles
    return total


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
            values[team_id, month] = tallies.get((team_id, month), Tally()).snapshot_values(month)
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
    ``months``; return how many were written. ``computation`` is stored with them.

    Idempotent: rows are upserted on (team, month). Each row records the ``dirty_version`` it
    had before the computation started, so writes that land meanwhile keep it stale.
    """
    months = sorted({Month.of(month) for month in months})
    if not months:
        return 0
    started = time.perf_counter()
    scope = MetricSnapshot.objects.filter(month__in=[month.first_day for month in months])
    if team_ids is not None:
        scope = scope.filter(team_id__in=team_ids)
    versions = {(team_id, Month.of(month)): version
                for team_id, month, version in scope.order_by().values_list("team_id", "month", "dirty_version")}
    values = compute(months, team_ids)
    with transaction.atomic():
        written = _store(values, versions, computation)
    logger.debug("metrics: %d snapshots for %s teams over %d months in %.0f ms", written,
                 "all" if team_ids is None else len(team_ids), len(months), (time.perf_counter() - started) * 1000)
    return written


def recompute_keys(keys: Iterable[tuple[int | None, MonthLike]], *, computation: str = Computation.EDIT) -> int:
    """Recompute exactly ``keys`` — (team id, month) pairs, team None for the organisation —
    and return how many snapshots were written.

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
    versions: dict[Key, int] = {}
    fresh: set[Key] = set()
    for team_id, day, dirty, computed, computed_at in scope.order_by().values_list(
            "team_id", "month", "dirty_version", "computed_version", "computed_at"):
        key = (team_id, Month.of(day))
        versions[key] = dirty
        if computed_at is not None and dirty <= computed:
            fresh.add(key)
    if organisation_months:
        team_ids = list(Team.objects.order_by().values_list("id", flat=True))
        team_keys |= {(team_id, month) for team_id in team_ids for month in organisation_months
                      if (team_id, month) not in fresh}
    tallies = collect(runs_for_keys(team_keys))
    values = {key: tallies.get(key, Tally()).snapshot_values(key[1]) for key in team_keys}
    with transaction.atomic():
        written = _store(values, versions, computation)
        if organisation_months:
            written += _store(_organisation_from_teams(sorted(organisation_months)), versions, computation)
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


def _store(values: dict[Key, dict], versions: dict[Key, int], computation: str) -> int:
    """Upsert snapshot values with the versions seen before computing and who computed them
    (inside the caller's transaction)."""
    now = timezone.now()
    rows = [{"team_id": team_id, "month": month.first_day, **figures, "computed_at": now,
             "computed_by": computation, "dirty_version": versions.get((team_id, month), 0),
             "computed_version": versions.get((team_id, month), 0)}
            for (team_id, month), figures in values.items()]
    _upsert([row for row in rows if row["team_id"] is not None], organisation=False)
    _upsert([row for row in rows if row["team_id"] is None], organisation=True)
    return len(rows)


_FIELDS = [f for f in MetricSnapshot._meta.concrete_fields if not f.primary_key]


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


def _upsert(rows: list[dict], *, organisation: bool) -> None:
    """Set-based INSERT … ON CONFLICT (partial unique index) DO UPDATE: on PostgreSQL one
    statement whose rows travel as a single JSON parameter (``jsonb_to_recordset``: no per-row
    or per-value cost in the driver); elsewhere multi-row ``VALUES`` of up to 1,000 rows.

    ``dirty_version`` is only written for new rows: marks added while computing must survive.
    """
    if not rows:
        return
    rows = sorted(rows, key=lambda row: (row["team_id"] or 0, row["month"]))  # LOCK_ORDER
    quote = connection.ops.quote_name
    table = quote(MetricSnapshot._meta.db_table)
    columns = ", ".join(quote(f.column) for f in _FIELDS)
    keep_on_update = {"team_id", "month", "dirty_version"}
    updates = ", ".join(f"{quote(f.column)} = excluded.{quote(f.column)}" for f in _FIELDS
                        if f.column not in keep_on_update)
    target = (f"({quote('month')}) WHERE {quote('team_id')} IS NULL" if organisation
              else f"({quote('team_id')}, {quote('month')}) WHERE {quote('team_id')} IS NOT NULL")
    conflict = f"ON CONFLICT {target} DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in _FIELDS)
            payload = json.dumps([{f.column: row[f.attname] for f in _FIELDS} for row in rows], cls=DjangoJSONEncoder)
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) "
                           f"AS r({types}) {conflict}", [payload])
            return
        row_placeholder = "(" + ", ".join(["%s"] * len(_FIELDS)) + ")"
        preparers = list(zip(_FIELDS, _preparers(), strict=True))
        size = _batch_size()
        for index in range(0, len(rows), size):
            batch = rows[index:index + size]
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
