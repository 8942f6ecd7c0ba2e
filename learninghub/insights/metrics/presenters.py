"""What the dashboards show, built from snapshots: metric cards with the counts behind each
ratio, and monthly table rows. Every number carries the URL of the records behind it."""

from __future__ import annotations

from dataclasses import dataclass, field

from learninghub.insights.metrics.links import DrillDown, team_dashboard_url
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.kernel.periods import Month

Part = tuple[str, str | None]  # text, and the URL it links to (None: plain text)


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def fmt_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def fmt_velocity(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def fmt_hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} h" if value < 100 else f"{value:.0f} h"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else plural_form or singular + 's'}"


@dataclass
class Delta:
    text: str
    css: str  # "good", "bad" or "flat"


def delta(current: float | None, previous: float | None, *, kind: str, higher_is_better: bool = True) -> Delta | None:
    """The change from last month, worded for the metric's unit; None when either is unknown."""
    if current is None or previous is None:
        return None
    change = current - previous
    if kind == "rate":
        text, flat = f"{change * 100:+.0f} pts", round(change * 100) == 0
    elif kind == "hours":
        text, flat = f"{change:+.1f} h", round(change, 1) == 0
    elif kind == "velocity":
        text, flat = f"{change:+.1f}/wk", round(change, 1) == 0
    else:
        text, flat = f"{change:+.2f}", round(change, 2) == 0
    if flat:
        return Delta(text.replace("+", "±").replace("-", "±"), "flat")
    return Delta(text.replace("-", "−"), "good" if (change > 0) == higher_is_better else "bad")


@dataclass
class Card:
    key: str
    title: str
    value: str
    value_url: str | None = None
    unit: str = ""
    delta: Delta | None = None
    lines: list[list[Part]] = field(default_factory=list)
    help: str = ""


def metric_cards(snapshot: MetricSnapshot, previous: MetricSnapshot | None, drill: DrillDown,
                 score_url: str | None = None) -> list[Card]:
    """The cards of one month: each metric, its change from the month before, and the counts
    behind it as linked sentences ("1 of 4 failures were repeats"). No change is shown when
    either month has nothing recorded: a difference against an empty month says nothing."""
    s, month = snapshot, snapshot.period
    p = previous if previous is not None and previous.has_records and snapshot.has_records else None
    name = month.first_day.strftime("%B")

    def prev(attribute: str):
        return getattr(p, attribute) if p is not None else None

    cards = [
        Card("score", "Learning efficiency", fmt_score(s.learning_efficiency_score), score_url,
             delta=delta(s.learning_efficiency_score, prev("learning_efficiency_score"), kind="score"),
             lines=[[("0.3 · lessons applied + 0.3 · (1 − repeat rate) + 0.2 · innovation + 0.2 · velocity/10; "
                      "unknown parts are left out", None)]] if s.learning_efficiency_score is not None
             else [[("Nothing recorded this month yet.", None)]],
             help="Are we learning from failures or repeating them?"),
        Card("velocity", "Experiment velocity", fmt_velocity(s.experiment_velocity),
             drill.experiments_started(month), unit="per week",
             delta=delta(s.experiment_velocity, prev("experiment_velocity"), kind="velocity"),
             lines=[[(plural(s.experiments_started, "experiment"), drill.experiments_started(month)),
                     (f" started in {name} ({month.days} days)", None)]]),
        Card("innovation", "Innovation index", fmt_rate(s.innovation_index), drill.novel_experiments(month),
             delta=delta(s.innovation_index, prev("innovation_index"), kind="rate"),
             lines=[[(f"{s.experiments_novel:,}", drill.novel_experiments(month)), (" of ", None),
                     (plural(s.experiments_started, "experiment"), drill.experiments_started(month)),
                     (" started were novel approaches", None)]]),
        Card("repeat", "Repeat failure rate", fmt_rate(s.repeat_failure_rate),
             drill.failed_experiments(month, repeat=True),
             delta=delta(s.repeat_failure_rate, prev("repeat_failure_rate"), kind="rate", higher_is_better=False),
             lines=[
                 [(f"{s.repeat_failures:,} of {plural(s.failures, 'failure')} "
                   f"{'was a repeat' if s.repeat_failures == 1 else 'were repeats'}", None)],
                 [(plural(s.experiment_failures, "failed experiment"), drill.failed_experiments(month)),
                  (" (", None), (f"{s.experiment_repeat_failures:,} repeated",
                                 drill.failed_experiments(month, repeat=True)),
                  (") · ", None),
                  (plural(s.postmortem_failures, "post-mortem"), drill.postmortems_occurred(month)),
                  (" (", None), (f"{s.postmortem_repeat_failures:,} repeated",
                                 drill.postmortems_occurred(month, repeat=True)), (")", None)],
             ]),
        Card("lessons", "Lesson application rate", fmt_rate(s.lesson_application_rate),
             drill.lessons_in_window(month, applied=True),
             delta=delta(s.lesson_application_rate, prev("lesson_application_rate"), kind="rate"),
             lines=[[(f"{s.lessons_applied:,}", drill.lessons_in_window(month, applied=True)), (" of ", None),
                     (plural(s.lessons_in_window, "lesson"), drill.lessons_in_window(month)),
                     (" documented in the 365 days before the month's end were applied by then", None)]]),
        Card("recovery", "Failure recovery time", fmt_hours(s.failure_recovery_time),
             drill.postmortems_resolved(month), unit="mean, detection → resolution",
             delta=delta(s.failure_recovery_time, prev("failure_recovery_time"), kind="hours",
                         higher_is_better=False),
             lines=[[(f"median {fmt_hours(s.failure_recovery_time_median)} · "
                      f"90th percentile {fmt_hours(s.failure_recovery_time_p90)}", None)],
                    [("over ", None), (plural(s.recovery_time_samples, "post-mortem"),
                                       drill.postmortems_resolved(month)),
                     (f" resolved in {name}", None)]]),
        Card("detect", "Time to detect", fmt_hours(s.time_to_detect), drill.postmortems_resolved(month),
             unit="mean, occurrence → detection",
             delta=delta(s.time_to_detect, prev("time_to_detect"), kind="hours", higher_is_better=False),
             lines=[[("over ", None), (plural(s.time_to_detect_samples, "post-mortem"),
                                       drill.postmortems_resolved(month)),
                     (f" resolved in {name}", None)]]),
        Card("actions", "Action items done on time", fmt_rate(s.action_item_completion_rate),
             drill.action_items_due(month, status="done"),
             delta=delta(s.action_item_completion_rate, prev("action_item_completion_rate"), kind="rate"),
             lines=[[(f"{s.action_items_done_on_time:,} of ", None),
                     (plural(s.action_items_due, "action item"), drill.action_items_due(month)),
                     (f" due in {name} were done by their due date", None)],
                    [(f"{s.action_items_open:,} open", drill.action_items_due(month, status="open")), (" · ", None),
                     (f"{s.action_items_in_progress:,} in progress",
                      drill.action_items_due(month, status="in_progress")), (" · ", None),
                     (f"{s.action_items_overdue:,} overdue", drill.action_items_due(month, overdue="true"))]]),
    ]
    return cards


@dataclass
class Cell:
    """A table cell: its text (linked to its records), and further links when the records sit in
    two lists (repeats are failed experiments *and* post-mortems)."""

    text: str
    url: str | None = None
    title: str = ""
    links: list[Part] = field(default_factory=list)


def month_rows(snapshots: list[MetricSnapshot], drill: DrillDown) -> list[dict]:
    """The monthly table, newest first: the score, then every figure and count, each count a link."""
    rows = []
    for s in sorted(snapshots, key=lambda snapshot: snapshot.month, reverse=True):
        m = s.period
        rows.append({
            "month": m.short_label,
            "cells": [
                Cell(fmt_score(s.learning_efficiency_score), None, "Learning efficiency score"),
                Cell(f"{s.experiments_started:,}", drill.experiments_started(m), "Experiments started"),
                Cell(f"{s.experiments_novel:,}", drill.novel_experiments(m), "Novel experiments"),
                Cell(fmt_velocity(s.experiment_velocity), drill.experiments_started(m), "Experiments per week"),
                Cell(fmt_rate(s.innovation_index), drill.novel_experiments(m), "Innovation index"),
                Cell(f"{s.experiment_failures:,}", drill.failed_experiments(m), "Failed experiments"),
                Cell(f"{s.postmortem_failures:,}", drill.postmortems_occurred(m), "Post-mortems"),
                _repeats_cell(s, drill),
                Cell(fmt_rate(s.repeat_failure_rate), drill.failed_experiments(m, repeat=True), "Repeat failure rate"),
                Cell(f"{s.lessons_applied:,} / {s.lessons_in_window:,}", drill.lessons_in_window(m, applied=True),
                     "Lessons applied / in the 365-day window"),
                Cell(fmt_rate(s.lesson_application_rate), drill.lessons_in_window(m, applied=True),
                     "Lesson application rate"),
                Cell(f"{s.postmortems_resolved:,}", drill.postmortems_resolved(m), "Post-mortems resolved"),
                Cell(fmt_hours(s.failure_recovery_time), drill.postmortems_resolved(m), "Mean recovery time"),
                Cell(f"{fmt_hours(s.failure_recovery_time_median)} / {fmt_hours(s.failure_recovery_time_p90)}",
                     drill.postmortems_resolved(m), "Median / 90th percentile recovery time"),
                Cell(fmt_hours(s.time_to_detect), drill.postmortems_resolved(m), "Mean time to detect"),
                Cell(f"{s.action_items_done_on_time:,} / {s.action_items_due:,}", drill.action_items_due(m),
                     "Action items done on time / due"),
                Cell(f"{s.action_items_overdue:,}", drill.action_items_due(m, overdue="true"), "Overdue action items"),
                Cell(fmt_rate(s.action_item_completion_rate), drill.action_items_due(m, status="done"),
                     "Action item completion rate"),
            ],
        })
    return rows


def _repeat_links(s: MetricSnapshot, drill: DrillDown) -> tuple[str | None, list[Part]]:
    """Repeats are failed experiments and post-mortems, in two lists: one link when one list holds
    them all, else a link to each ("1 experiment · 1 post-mortem"), so every record is reachable."""
    m = s.period
    if not s.postmortem_repeat_failures:
        return drill.failed_experiments(m, repeat=True), []
    if not s.experiment_repeat_failures:
        return drill.postmortems_occurred(m, repeat=True), []
    return None, [(plural(s.experiment_repeat_failures, "experiment"), drill.failed_experiments(m, repeat=True)),
                  (plural(s.postmortem_repeat_failures, "post-mortem"), drill.postmortems_occurred(m, repeat=True))]


def _repeats_cell(s: MetricSnapshot, drill: DrillDown) -> Cell:
    url, links = _repeat_links(s, drill)
    title = (f"Repeat failures: {plural(s.experiment_repeat_failures, 'experiment')}, "
             f"{plural(s.postmortem_repeat_failures, 'post-mortem')}")
    return Cell(f"{s.repeat_failures:,}", url, title, links)


MONTH_TABLE_HEADINGS = ["Score", "Started", "Novel", "Per week", "Innovation", "Failed exp.", "Post-mortems", "Repeats",
                        "Repeat rate", "Lessons applied", "Application", "Resolved", "Recovery", "Median / p90",
                        "Detect", "Items on time", "Overdue", "Completion"]


def team_comparison_rows(teams, snapshots: dict[int, MetricSnapshot], month: Month, my_team_ids: set[int]) -> list:
    """One row per team for the selected month (teams without a snapshot show dashes)."""
    rows = []
    for team in teams:
        s = snapshots.get(team.pk)
        drill = DrillDown(team.slug)
        row = {"team": team, "mine": team.pk in my_team_ids, "dashboard_url": team_dashboard_url(team.slug),
               "snapshot": s, "cells": []}
        if s is not None:
            repeats_url, repeats_links = _repeat_links(s, drill)
            row["cells"] = [
                Cell(fmt_score(s.learning_efficiency_score), team_dashboard_url(team.slug, month, month),
                     "Learning efficiency score (opens the team's month)"),
                Cell(f"{s.experiments_started:,}", drill.experiments_started(month), "Experiments started"),
                Cell(f"{s.repeat_failures:,} of {s.failures:,}", repeats_url, "Repeat failures of all failures",
                     repeats_links),
                Cell(f"{s.lessons_applied:,} of {s.lessons_in_window:,}", drill.lessons_in_window(month, applied=True),
                     "Lessons applied of lessons in the window"),
                Cell(f"{s.action_items_done_on_time:,} of {s.action_items_due:,}", drill.action_items_due(month),
                     "Action items done on time of those due"),
                Cell(f"{s.action_items_overdue:,}", drill.action_items_due(month, overdue="true"), "Overdue"),
            ]
        rows.append(row)
    return rows
