"""Dashboards: the organisation's (the home page) and each team's. They read snapshots in a
fixed number of queries; missing or stale figures are computed in-process and labelled live."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from learninghub.insights.metrics import charts, fragments
from learninghub.insights.metrics.links import DrillDown, build_url, team_dashboard_url
from learninghub.insights.metrics.presenters import MONTH_TABLE_HEADINGS, metric_cards, month_rows, team_comparison_rows
from learninghub.insights.metrics.selectors import snapshot_set
from learninghub.insights.repeats.selectors import overturn_stats
from learninghub.kernel.models import Team
from learninghub.kernel.periods import Month
from learninghub.kernel.policy import team_ids_for

DEFAULT_MONTHS = 12
MAX_MONTHS = 60


class MonthField(forms.CharField):
    """A calendar month as YYYY-MM (what ``<input type="month">`` sends), read by ``Month.parse``."""

    widget = forms.DateInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value) -> Month | None:
        value = super().to_python(value).strip()
        if not value:
            return None
        try:
            return Month.parse(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


class MonthRangeForm(forms.Form):
    """``from`` and ``to`` months (inclusive); defaults to the last 12 complete months."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = MonthField(required=False, label="From")
        self.fields["to"] = MonthField(required=False, label="To")

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("from"), cleaned.get("to")
        if first and last and first > last:
            self.add_error("to", "The end month must not be before the start month.")
        elif first and len(Month.range(first, last or Month.current())) > MAX_MONTHS:
            self.add_error("from", f"Show at most {MAX_MONTHS} months at a time.")
        return cleaned

    def shown(self, months: list[Month]) -> MonthRangeForm:
        """The form as the page shows it: its inputs hold the months displayed (the defaults
        filled in); an invalid form stays as typed, beside its errors."""
        if self.is_bound and not self.is_valid():
            return self
        return MonthRangeForm(initial={"from": months[0].key, "to": months[-1].key})

    def months(self) -> list[Month]:
        """The chosen months; the default range when the input is missing or invalid."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        last = data.get("to") or Month.last_complete()
        first = data.get("from") or last.shift(-(DEFAULT_MONTHS - 1))
        if first > last:
            first = last.shift(-(DEFAULT_MONTHS - 1))
        return Month.range(first, last)


class MonthForm(forms.Form):
    month = MonthField(required=False, label="Month")

    def selected(self) -> Month:
        """The chosen month; by default the last complete one (the month in progress is partial)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return data.get("month") or Month.last_complete()

    def shown(self, month: Month) -> MonthForm:
        """The form as the page shows it: its input holds the month displayed (see MonthRangeForm)."""
        if self.is_bound and not self.is_valid():
            return self
        return MonthForm(initial={"month": month.key})


def _beside(shown: Month) -> list[Month]:
    """The month in progress when the month shown is the last complete one (it is shown beside)."""
    return [Month.current()] if shown == Month.last_complete() else []


def _in_progress(snapshots, team_id: int | None, shown: Month, drill: DrillDown) -> dict | None:
    """The month in progress, shown beside the last complete month and marked partial (no change
    from last month: a partial month compares badly with any whole one)."""
    if not _beside(shown):
        return None
    current = Month.current()
    snapshot = snapshots.get(team_id, current)
    return {"label": current.label, "cards": metric_cards(snapshot, None, drill) if snapshot else []}


def _status(snapshots) -> dict:
    """The status line: live, pending or up to date, and which computations produced the figures."""
    return {"live": snapshots.computed_live, "pending": snapshots.pending, "computed_at": snapshots.computed_at,
            "sources": snapshots.sources}


def organisation_dashboard(request: HttpRequest) -> HttpResponse:
    """Home: the organisation's cards for a month, learning efficiency per team over time, the
    team comparison for that month, and the teams with their members."""
    teams = list(Team.objects.with_member_counts().order_by("name"))
    my_team_ids = team_ids_for(request.user)
    form = MonthForm(request.GET or None)
    month = form.selected()
    months = Month.range(month.shift(-(DEFAULT_MONTHS - 1)), month)
    snapshots = snapshot_set([*months, *_beside(month)], team_ids=[team.pk for team in teams], organisation=True,
                             with_team=False, whole_months={month})
    current = snapshots.get(None, month)
    drill = DrillDown(None)

    def organisation_url(m: Month) -> str | None:
        return build_url("home", month=m.key)

    by_team: dict[int | None, list] = {}
    for (team_id, snapshot_month), snapshot in snapshots.rows.items():
        if months[0] <= Month.of(snapshot_month) <= month:
            by_team.setdefault(team_id, []).append(snapshot)
    selected = {team.pk: snapshots.get(team.pk, month) for team in teams if snapshots.get(team.pk, month)}

    def draw() -> dict:
        trend = charts.team_scores_figure(teams, by_team, months, organisation_url)
        comparison = charts.team_comparison_figure(teams, selected, month)
        charts_html = render_to_string("dashboards/_organisation_charts.html", {
            "month_label": month.label, "trend_json": charts.to_json(trend) if trend else None,
            "trend_table": charts.data_table(trend) if trend else None,
            "comparison_json": charts.to_json(comparison) if comparison else None,
            "comparison_table": charts.data_table(comparison) if comparison else None})
        teams_html = render_to_string("dashboards/_organisation_teams.html", {
            "teams": teams, "team_rows": team_comparison_rows(teams, selected, month, my_team_ids)})
        return {"charts": charts_html, "teams": teams_html, "any_chart": bool(trend or comparison)}

    shown_teams = [(team.pk, team.name, team.slug, team.description, team.member_count) for team in teams]
    drawn = fragments.drawn(fragments.fragment_key(
        "organisation", [month.key, Month.current().key, sorted(my_team_ids), *shown_teams],
        snapshots.rows.values()), draw)
    context = {
        "form": form.shown(month),
        "month": month,
        "month_label": month.label,
        "partial": not month.is_complete(),
        "in_progress": _in_progress(snapshots, None, month, drill),
        "previous_month_url": organisation_url(month.previous()),
        "next_month_url": organisation_url(month.next()) if month < Month.current() else None,
        "cards": metric_cards(current, snapshots.get(None, month.previous()), drill) if current else [],
        "has_data": any(s.experiments_started or s.failures or s.lessons_in_window or s.action_items_due
                        or s.postmortems_resolved for s in by_team.get(None, [])),
        # Drawn from the snapshots by our templates, every value escaped:
        "charts_html": mark_safe(drawn["charts"]),
        "teams_html": mark_safe(drawn["teams"]),
        "has_charts": drawn["any_chart"],
        "teams": teams,
        "status": _status(snapshots),
        "record_url": build_url("experiments:create"),
        "repeat_review": overturn_stats(),
        "review_queue_url": build_url("repeats:queue"),
    }
    return render(request, "dashboards/organisation.html", context)


def team_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    """One team's metrics over a month range: cards for the last month, charts, the monthly table."""
    team = get_object_or_404(Team, slug=slug)
    form = MonthRangeForm(request.GET or None)
    months = form.months()
    last = months[-1]
    snapshots = snapshot_set(sorted({last.previous(), *_beside(last), *months}), team_ids=[team.pk])
    series = snapshots.series(team.pk, months)
    drill = DrillDown(team.slug)
    current = snapshots.get(team.pk, last)
    figures = fragments.drawn(
        fragments.fragment_key("team", [team.slug, Month.current().key, *(month.key for month in months)], series),
        lambda: render_to_string("dashboards/_team_figures.html", {
            "panels": _team_panels(series, months, team.slug), "headings": MONTH_TABLE_HEADINGS,
            "rows": month_rows(series, DrillDown(team.slug))}))
    other_teams = Team.objects.exclude(pk=team.pk).order_by("name").values_list("name", "slug")
    context = {
        "team": team,
        "form": form.shown(months),
        "months": months,
        "range_label": f"{months[0].short_label} – {last.short_label}",
        "last_label": last.label,
        "partial": not last.is_complete(),
        "in_progress": _in_progress(snapshots, team.pk, last, drill),
        "cards": metric_cards(current, snapshots.get(team.pk, last.previous()), drill,
                              score_url=team_dashboard_url(team.slug, last, last)) if current else [],
        "figures_html": mark_safe(figures),  # drawn from the snapshots by our templates, every value escaped
        "status": _status(snapshots),
        "other_teams": [(name, team_dashboard_url(other_slug)) for name, other_slug in other_teams],
        "api_url": build_url("api-metrics", team=team.slug, **{"from": months[0].key, "to": last.key}),
        "repeat_review": overturn_stats(team.pk),
        "review_queue_url": build_url("repeats:queue", team=team.slug),
    }
    return render(request, "dashboards/team.html", context)


def _team_panels(series: list, months: list[Month], team_slug: str) -> list[dict]:
    """The team dashboard's chart panels, each with its empty state."""
    drill = DrillDown(team_slug)
    return [
        _panel("score", "Learning efficiency score", charts.score_figure(series, months, team_slug),
               "No learning efficiency score in these months.",
               "Record experiments, failures (experiments or post-mortems) or lessons: the score combines them."),
        _panel("repeat", "Repeat failure rate (lower is better)",
               charts.rate_figure("repeat", series, months, drill), "No failures recorded in these months.",
               "Failed experiments and post-mortems give the repeat rate; link a failure to the earlier one it "
               "repeats."),
        _panel("lessons", "Lesson application rate",
               charts.rate_figure("lessons", series, months, drill), "No lessons in these months' windows.",
               "Document lessons in experiments and post-mortems, and record where they were applied."),
        _panel("innovation", "Innovation index (novel experiments)",
               charts.rate_figure("innovation", series, months, drill), "No experiments started in these months.",
               "Mark experiments that try a new approach as novel to see the innovation index."),
        _panel("completion", "Action items done on time",
               charts.rate_figure("completion", series, months, drill), "No action items due in these months.",
               "Give the action items of post-mortems an owner and a due date to see how many are done on time."),
        _panel("velocity", "Velocity (experiments per week)",
               charts.velocity_figure(series, months, drill), "No experiments started in these months.",
               "Record experiments as you start them (an outcome can stay “in progress”) to see velocity.",
               build_url("experiments:create")),
        _panel("recovery", "Failure recovery time (median, 90th percentile) and time to detect",
               charts.recovery_figure(series, months, drill), "No post-mortem was resolved in these months.",
               "Write post-mortems with the time the failure occurred, was detected and was resolved.",
               build_url("postmortems:create")),
        _panel("modes", "Failures by failure mode per month",
               charts.failure_modes_figure(series, months, drill), "No failures recorded in these months.",
               "Failed experiments (by the month they ended) and post-mortems (by the month they occurred) "
               "appear here; give them a failure mode to see which kind of failure recurs."),
        _panel("kinds", "Failed experiments by kind",
               charts.failure_kinds_figure(series, months, drill), "No failed experiments in these months.",
               "Mark failed experiments as productive (the idea was refuted), wasteful (avoidable) or "
               "system (the run crashed)."),
        _panel("actions", "Action items by due month: open vs done, and overdue",
               charts.action_items_figure(series, months, drill), "No action items due in these months.",
               "Give the action items of post-mortems an owner and a due date to track them here."),
    ]


def _panel(key: str, title: str, figure: dict | None, empty: str, hint: str, action_url: str | None = None) -> dict:
    """A chart panel: the figure's JSON and its data table (the text alternative), or an empty state."""
    table = charts.data_table(figure) if figure else None
    return {"key": key, "title": title, "figure_json": charts.to_json(figure) if figure else None, "table": table,
            "empty": empty, "hint": hint, "action_url": action_url}
