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

then upserts the snapshots (one statement per batch). Python only combines the grouped rows
(a few per team and month), never records.

**The lesson window.** A lesson documented at ``d`` is in the window of month M (ending at E)
when ``E − 365 days ≤ d < E``, i.e. for the months from ``month(d)`` up to, not including,
``month(d + 365 days)``. It counts as applied from ``month(max(d, a))`` where ``a`` is its
first application (``applied_at < E``). So each lesson adds +1 to the window count at
``month(d)`` and −1 at ``month(d + 365 days)`` (and likewise for the applied count); a running
sum over the grouped events gives every month's counts in one pass.

**The organisation** is computed over all records at once: every record belongs to exactly one
team, so the organisation's counts are the sums of the disjoint per-team counts of the same
queries (not averages of team rates), its ratios and means are re-derived from those totals,
and its median and 90th percentile come from their own query over all post-mortems.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, DateField, Exists, F, Min, OuterRef, Q, Sum
from django.db.models.functions import Greatest, TruncDate, TruncMonth
from django.utils import timezone

from experiments.models import Experiment, FailureKind, Lesson, LessonApplication, Outcome
from learninghub.insights.metrics.models import MetricSnapshot
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


def _month_of(expression) -> TruncMonth:
    """The UTC calendar month of a moment, as the date of its first day."""
    return TruncMonth(expression, tzinfo=dt.UTC, output_field=DateField())


def _as_month(value: dt.date | dt.datetime) -> Month:
    """A month truncated by the database (a date; some backends hand back a datetime)."""
    return Month(value.year, value.month)


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


def collect(months: Iterable[MonthLike], team_ids: list[int] | None = None,
            today: dt.date | None = None) -> tuple[dict[Key, Tally], dict[Month, tuple]]:
    """Grouped counts for every team in ``team_ids`` (None: every team) over the contiguous span
    of ``months``; also the organisation's percentiles when ``team_ids`` is None."""
    months = sorted({Month.of(month) for month in months})
    first, last = months[0], months[-1]
    start, end = first.start, last.end
    today = today or timezone.localdate()
    tallies: dict[Key, Tally] = defaultdict(Tally)

    started = (Experiment.objects.filter(_team_q(team_ids), started_at__gte=start, started_at__lt=end)
               .order_by().values("team_id", month=_month_of("started_at"))
               .annotate(n=Count("id"), novel=Count("id", filter=Q(is_novel=True))))
    for row in started:
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.started, tally.novel = row["n"], row["novel"]

    # One row per team and month: a conditional count per known failure mode and kind; the
    # remainder (blank or unknown values) is "unspecified".
    by_mode = {f"mode:{mode}": Count("id", filter=Q(failure_mode=mode)) for mode in FailureMode.values}
    by_kind = {f"kind:{kind}": Count("id", filter=Q(failure_kind=kind)) for kind in FailureKind.values}
    failed = (Experiment.objects.filter(_team_q(team_ids), outcome=Outcome.FAILURE, ended_at__gte=start,
                                        ended_at__lt=end)
              .order_by().values("team_id", month=_month_of("ended_at"))
              .annotate(n=Count("id"), repeats=Count("repeat_of_id"), **by_mode, **by_kind))
    for row in failed:
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.experiment_failures, tally.experiment_repeats = row["n"], row["repeats"]
        modes = _split_counts(row, "mode:", row["n"])
        tally.by_mode.update(modes)
        tally.experiment_by_mode.update(modes)
        tally.by_kind.update(_split_counts(row, "kind:", row["n"]))

    occurred = (PostMortem.objects.filter(_team_q(team_ids), occurred_at__gte=start, occurred_at__lt=end)
                .order_by().values("team_id", month=_month_of("occurred_at"))
                .annotate(n=Count("id"), repeats=Count("repeat_of_id"), **by_mode))
    for row in occurred:
        tally = tallies[row["team_id"], _as_month(row["month"])]
        tally.postmortem_failures, tally.postmortem_repeats = row["n"], row["repeats"]
        tally.by_mode.update(_split_counts(row, "mode:", row["n"]))

    recovery = HoursBetween("resolved_at", "detected_at")
    detection = HoursBetween("detected_at", "occurred_at")
    resolved_qs = PostMortem.objects.filter(_team_q(team_ids), resolved_at__gte=start, resolved_at__lt=end)
    resolved = (resolved_qs.order_by().values("team_id", month=_month_of("resolved_at"))
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

    organisation_percentiles: dict[Month, tuple] = {}
    if team_ids is None:
        for row in (resolved_qs.order_by().values(month=_month_of("resolved_at"))
                    .annotate(median=Percentile(recovery, 0.5), p90=Percentile(recovery, 0.9))):
            organisation_percentiles[_as_month(row["month"])] = (row["median"], row["p90"])

    _collect_lessons(tallies, first, last, team_ids)

    on_time = Q(status=ActionItemStatus.DONE, completed_at__isnull=False,
                completed_on__lte=F("due_date"))
    items = (ActionItem.objects.filter(_team_q(team_ids, "postmortem__team_id"), due_date__gte=first.first_day,
                                       due_date__lte=last.last_day)
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

    return tallies, organisation_percentiles


def _collect_lessons(tallies: dict[Key, Tally], first: Month, last: Month, team_ids: list[int] | None) -> None:
    """Window and applied counts for months ``first``..``last`` from two grouped event queries."""
    window_start = first.end - LESSON_WINDOW
    end = last.end
    leaves = _month_of(F("documented_at") + LESSON_WINDOW)
    events: dict[int, Counter] = defaultdict(Counter)  # team → Month → change of the window count
    applied_events: dict[int, Counter] = defaultdict(Counter)

    documented = (Lesson.objects.filter(_team_q(team_ids), documented_at__gte=window_start, documented_at__lt=end)
                  .order_by().values("team_id", enters=_month_of("documented_at"), leaves=leaves)
                  .annotate(n=Count("id")))
    for row in documented:
        events[row["team_id"]][_as_month(row["enters"])] += row["n"]
        events[row["team_id"]][_as_month(row["leaves"])] -= row["n"]

    # The first application of each lesson (ties broken by id): no earlier application exists.
    earlier = LessonApplication.objects.filter(
        Q(applied_at__lt=OuterRef("applied_at")) | Q(applied_at=OuterRef("applied_at"), id__lt=OuterRef("id")),
        lesson_id=OuterRef("lesson_id"),
    )
    first_applications = (
        LessonApplication.objects.filter(_team_q(team_ids, "lesson__team_id"),
                                         lesson__documented_at__gte=window_start, lesson__documented_at__lt=end,
                                         applied_at__lt=end)
        .filter(~Exists(earlier))
        .order_by()
        .values(team_id=F("lesson__team_id"),
                counts_from=_month_of(Greatest("lesson__documented_at", "applied_at")),
                leaves=_month_of(F("lesson__documented_at") + LESSON_WINDOW))
        .annotate(n=Count("id"))
    )
    for row in first_applications:
        counts_from, leaves_at = _as_month(row["counts_from"]), _as_month(row["leaves"])
        if counts_from < leaves_at:  # applied before the lesson left the window
            applied_events[row["team_id"]][counts_from] += row["n"]
            applied_events[row["team_id"]][leaves_at] -= row["n"]

    for team_id in events.keys() | applied_events.keys():
        in_window, applied = 0, 0
        team_events, team_applied = events[team_id], applied_events[team_id]
        event_months = sorted(team_events.keys() | team_applied.keys())
        span_start = min(event_months[0], first)
        for month in Month.range(span_start, last):
            in_window += team_events.get(month, 0)
            applied += team_applied.get(month, 0)
            if month >= first and (in_window or applied):
                tally = tallies[team_id, month]
                tally.lessons_in_window, tally.lessons_applied = in_window, applied


# --- Snapshots ------------------------------------------------------------------------------

def compute(months: Iterable[MonthLike], team_ids: list[int] | None = None,
            today: dt.date | None = None) -> dict[Key, dict]:
    """Snapshot values for every (team, month) requested, zeros included, and — when
    ``team_ids`` is None (every team) — the organisation's, keyed ``(None, month)``."""
    months = sorted({Month.of(month) for month in months})
    if not months:
        return {}
    tallies, organisation_percentiles = collect(months, team_ids, today=today)
    wanted = set(months)
    teams = team_ids if team_ids is not None else list(Team.objects.values_list("id", flat=True))
    values: dict[Key, dict] = {}
    for team_id in teams:
        for month in months:
            values[team_id, month] = tallies.get((team_id, month), Tally()).snapshot_values(month)
    if team_ids is None:
        organisation: dict[Month, Tally] = defaultdict(Tally)
        for (_team_id, month), tally in tallies.items():
            if month in wanted:
                organisation[month].add(tally)
        for month in months:
            tally = organisation.get(month, Tally())
            tally.recovery_median, tally.recovery_p90 = organisation_percentiles.get(month, (None, None))
            values[None, month] = tally.snapshot_values(month)
    return values


def recompute(months: Iterable[MonthLike], team_ids: list[int] | None = None) -> int:
    """Compute and store snapshots (see ``compute``); return how many were written.

    Idempotent: rows are upserted on (team, month). Each row records the ``dirty_version`` it
    had before the computation started, so writes that land meanwhile keep it stale.
    """
    months = sorted({Month.of(month) for month in months})
    if not months:
        return 0
    started = time.perf_counter()
    scope = MetricSnapshot.objects.filter(month__gte=months[0].first_day, month__lte=months[-1].first_day)
    if team_ids is not None:
        scope = scope.filter(team_id__in=team_ids)
    versions = {(team_id, Month.of(month)): version
                for team_id, month, version in scope.order_by().values_list("team_id", "month", "dirty_version")}
    values = compute(months, team_ids)
    now = timezone.now()
    rows = [{"team_id": team_id, "month": month.first_day, **figures, "computed_at": now,
             "dirty_version": versions.get((team_id, month), 0),
             "computed_version": versions.get((team_id, month), 0)}
            for (team_id, month), figures in values.items()]
    with transaction.atomic():
        _upsert([row for row in rows if row["team_id"] is not None], organisation=False)
        _upsert([row for row in rows if row["team_id"] is None], organisation=True)
    logger.debug("metrics: %d snapshots for %s teams over %d months in %.0f ms", len(rows),
                "all" if team_ids is None else len(team_ids), len(months), (time.perf_counter() - started) * 1000)
    return len(rows)


_FIELDS = [f for f in MetricSnapshot._meta.concrete_fields if not f.primary_key]


def _preparers() -> list:
    """Per column, how to turn a Python value into a query parameter: only JSON and datetimes
    need the backend's adaptation (ints, floats, dates and None pass as they are)."""
    from django.db.models import DateTimeField, JSONField

    preparers = []
    for f in _FIELDS:
        if isinstance(f, JSONField | DateTimeField):
            preparers.append(lambda value, f=f: f.get_db_prep_save(value, connection))
        else:
            preparers.append(None)
    return preparers


def _upsert(rows: list[dict], *, organisation: bool) -> None:
    """INSERT … ON CONFLICT (partial unique index) DO UPDATE: the same SQL on SQLite and PostgreSQL,
    sent with ``executemany`` (one prepared statement, pipelined by psycopg).

    ``dirty_version`` is only written for new rows: marks added while computing must survive.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(MetricSnapshot._meta.db_table)
    columns = ", ".join(quote(f.column) for f in _FIELDS)
    keep_on_update = {"team_id", "month", "dirty_version"}
    updates = ", ".join(f"{quote(f.column)} = excluded.{quote(f.column)}" for f in _FIELDS
                        if f.column not in keep_on_update)
    target = (f"({quote('month')}) WHERE {quote('team_id')} IS NULL" if organisation
              else f"({quote('team_id')}, {quote('month')}) WHERE {quote('team_id')} IS NOT NULL")
    placeholders = ", ".join(["%s"] * len(_FIELDS))
    sql = (f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "
           f"ON CONFLICT {target} DO UPDATE SET {updates}")
    preparers = list(zip(_FIELDS, _preparers(), strict=True))
    params = [[prepare(row[f.attname]) if prepare else row[f.attname] for f, prepare in preparers] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


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


def recompute_all(until: MonthLike | None = None) -> int:
    """Backfill: every team and the organisation, over every month with data."""
    return recompute(data_months(until=until))


def recompute_stale() -> int:
    """Recompute every month that has a stale or never-computed snapshot (all teams and the
    organisation for those months: the organisation's figures need every team's records)."""
    months = sorted(set(MetricSnapshot.objects.stale().values_list("month", flat=True).distinct()))
    return recompute(months) if months else 0


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
    MetricSnapshot.objects.bulk_create(
        [MetricSnapshot(team_id=key, month=month.first_day) for month in months if month <= current
         for key in (team_id, None)],
        ignore_conflicts=True,
    )
    (MetricSnapshot.objects.filter(Q(team_id=team_id) | Q(team__isnull=True),
                                   month__in=[month.first_day for month in months])
     .update(dirty_version=F("dirty_version") + 1))
