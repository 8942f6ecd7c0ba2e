"""Plotly figures for the dashboards, as plain dicts (no figure validation on the request path).

Every point and bar carries the URL of the records behind it in ``customdata``; the shared
``static/js/charts.js`` opens it on click. A chart whose data is all empty is not drawn: the
builder returns None and the page shows an empty state explaining what to record instead.
"""

from __future__ import annotations

import json

from learninghub.insights.metrics.links import DrillDown, team_dashboard_url
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.kernel.charts import base_layout
from learninghub.kernel.choices import UNSPECIFIED, FailureMode
from learninghub.kernel.periods import Month

MODE_LABELS = {**dict(FailureMode.choices), UNSPECIFIED: "Unspecified"}
MODE_ORDER = [*FailureMode.values, UNSPECIFIED]
KIND_LABELS = {"productive": "Productive", "wasteful": "Wasteful", "system": "System (crashed)",
               UNSPECIFIED: "Unspecified"}
KIND_ORDER = ["productive", "wasteful", "system", UNSPECIFIED]
MODE_COLOURS = {"data_quality": "#2f5bea", "overfitting": "#b54708", "infrastructure": "#7a5af8",
                "other": "#13795b", UNSPECIFIED: "#98a2b3"}
KIND_COLOURS = {"productive": "#13795b", "wasteful": "#b42318", "system": "#b54708", UNSPECIFIED: "#98a2b3"}


def to_json(figure: dict) -> str:
    """JSON safe to embed in ``<script type="application/json">`` (no ``</script>`` breakout)."""
    text = json.dumps(figure, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _layout(**overrides) -> dict:
    layout = base_layout(**overrides)
    layout.setdefault("xaxis", {"type": "category"})
    return layout


def _rate_axis(title: str = "") -> dict:
    return {"tickformat": ".0%", "rangemode": "tozero", "title": {"text": title}}


def _by_month(snapshots: list[MetricSnapshot], months: list[Month]) -> list[MetricSnapshot | None]:
    found = {s.period: s for s in snapshots}
    return [found.get(month) for month in months]


def _values(series: list[MetricSnapshot | None], attribute: str) -> list:
    return [getattr(s, attribute) if s is not None else None for s in series]


def _line(name: str, x: list[str], y: list, urls: list, **extra) -> dict:
    return {"type": "scatter", "mode": "lines+markers", "name": name, "x": x, "y": y, "customdata": urls,
            "connectgaps": False, **extra}


def score_figure(snapshots, months, team_slug: str) -> dict | None:
    series = _by_month(snapshots, months)
    scores = _values(series, "learning_efficiency_score")
    if all(value is None for value in scores):
        return None
    x = [m.short_label for m in months]
    urls = [team_dashboard_url(team_slug, m, m) for m in months]
    trace = _line("Learning efficiency", x, scores, urls, hovertemplate="%{x}: %{y:.2f}<extra></extra>")
    return {"data": [trace], "layout": _layout(yaxis={"range": [0, 1], "title": {"text": "score"}},
                                                 showlegend=False)}


def rates_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    x = [m.short_label for m in months]
    lines = [
        ("Repeat failure rate", "repeat_failure_rate", lambda m: drill.failed_experiments(m, repeat=True)),
        ("Lesson application rate", "lesson_application_rate", lambda m: drill.lessons_in_window(m, applied=True)),
        ("Innovation index", "innovation_index", drill.novel_experiments),
        ("Action items done on time", "action_item_completion_rate",
         lambda m: drill.action_items_due(m, status="done")),
    ]
    data = []
    for name, attribute, url in lines:
        values = _values(series, attribute)
        if any(value is not None for value in values):
            data.append(_line(name, x, values, [url(m) for m in months],
                              hovertemplate=f"{name}: %{{y:.0%}}<extra></extra>"))
    if not data:
        return None
    return {"data": data, "layout": _layout(yaxis=_rate_axis(), hovermode="closest")}


def velocity_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    started = _values(series, "experiments_started")
    if not any(started):
        return None
    x = [m.short_label for m in months]
    data = [
        {"type": "bar", "name": "Experiments per week", "x": x, "y": _values(series, "experiment_velocity"),
         "customdata": [drill.experiments_started(m) for m in months], "marker": {"color": "#2f5bea"},
         "text": [f"{n or 0} started" for n in started],
         "hovertemplate": "%{y:.1f} per week (%{text})<extra></extra>"},
        _line("Innovation index", x, _values(series, "innovation_index"),
              [drill.novel_experiments(m) for m in months], yaxis="y2", marker={"color": "#b54708"},
              hovertemplate="Innovation: %{y:.0%}<extra></extra>"),
    ]
    layout = _layout(yaxis={"title": {"text": "experiments per week"}, "rangemode": "tozero"}, hovermode="closest",
                     yaxis2={**_rate_axis("novel"), "overlaying": "y", "side": "right", "range": [0, 1],
                             "dtick": 0.25, "showgrid": False},
                     margin={"l": 50, "r": 60, "t": 40, "b": 40})
    return {"data": data, "layout": layout}


def recovery_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    if not any(_values(series, "recovery_time_samples")) and not any(_values(series, "time_to_detect_samples")):
        return None
    x = [m.short_label for m in months]
    urls = [drill.postmortems_resolved(m) for m in months]
    data = [
        _line("Recovery, mean", x, _values(series, "failure_recovery_time"), urls, line={"width": 3},
              hovertemplate="mean %{y:.1f} h<extra></extra>"),
        _line("Recovery, median", x, _values(series, "failure_recovery_time_median"), urls,
              line={"dash": "dot"}, hovertemplate="median %{y:.1f} h<extra></extra>"),
        _line("Recovery, 90th percentile", x, _values(series, "failure_recovery_time_p90"), urls,
              line={"dash": "dash"}, hovertemplate="p90 %{y:.1f} h<extra></extra>"),
        _line("Time to detect, mean", x, _values(series, "time_to_detect"), urls,
              hovertemplate="detect %{y:.1f} h<extra></extra>"),
    ]
    return {"data": data, "layout": _layout(yaxis={"title": {"text": "hours"}, "rangemode": "tozero"})}


def failure_modes_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    if not any(_values(series, "failures")):
        return None
    x = [m.short_label for m in months]
    data = []
    for mode in MODE_ORDER:
        experiments = [(s.experiment_failures_by_mode or {}).get(mode, 0) if s else 0 for s in series]
        postmortems = [s.postmortem_failures_by_mode.get(mode, 0) if s else 0 for s in series]
        colour = MODE_COLOURS[mode]
        if any(experiments):
            data.append({"type": "bar", "name": f"{MODE_LABELS[mode]} · experiments", "x": x, "y": experiments,
                         "legendgroup": mode, "marker": {"color": colour},
                         "customdata": [drill.failed_experiments(m, failure_mode=mode) for m in months],
                         "hovertemplate": f"{MODE_LABELS[mode]}: %{{y}} failed experiments<extra></extra>"})
        if any(postmortems):
            data.append({"type": "bar", "name": f"{MODE_LABELS[mode]} · post-mortems", "x": x, "y": postmortems,
                         "legendgroup": mode, "marker": {"color": colour, "pattern": {"shape": "/"}},
                         "customdata": [drill.postmortems_occurred(m, failure_mode=mode) for m in months],
                         "hovertemplate": f"{MODE_LABELS[mode]}: %{{y}} post-mortems<extra></extra>"})
    return {"data": data, "layout": _layout(barmode="stack", yaxis={"title": {"text": "failures"}},
                                            hovermode="closest")}


def failure_kinds_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    if not any(_values(series, "experiment_failures")):
        return None
    x = [m.short_label for m in months]
    data = []
    for kind in KIND_ORDER:
        counts = [(s.failures_by_kind or {}).get(kind, 0) if s else 0 for s in series]
        if any(counts):
            data.append({"type": "bar", "name": KIND_LABELS[kind], "x": x, "y": counts,
                         "marker": {"color": KIND_COLOURS[kind]},
                         "customdata": [drill.failed_experiments(m, failure_kind=kind) for m in months],
                         "hovertemplate": f"{KIND_LABELS[kind]}: %{{y}}<extra></extra>"})
    return {"data": data, "layout": _layout(barmode="stack", yaxis={"title": {"text": "failed experiments"}},
                                            hovermode="closest")}


def action_items_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    if not any(_values(series, "action_items_due")):
        return None
    x = [m.short_label for m in months]
    segments = [("Done", "action_items_done", "done", "#13795b"),
                ("Won't do", "action_items_wont_do", "wont_do", "#98a2b3"),
                ("In progress", "action_items_in_progress", "in_progress", "#f79009"),
                ("Open", "action_items_open", "open", "#2f5bea")]
    data = [{"type": "bar", "name": name, "x": x, "y": [v or 0 for v in _values(series, attribute)],
             "marker": {"color": colour}, "customdata": [drill.action_items_due(m, status=status) for m in months],
             "hovertemplate": f"{name}: %{{y}}<extra></extra>"}
            for name, attribute, status, colour in segments]
    data.append(_line("Overdue", x, [v or 0 for v in _values(series, "action_items_overdue")],
                      [drill.action_items_due(m, overdue="true") for m in months],
                      marker={"color": "#b42318", "size": 9}, line={"color": "#b42318"},
                      hovertemplate="Overdue: %{y}<extra></extra>"))
    return {"data": data, "layout": _layout(barmode="stack", yaxis={"title": {"text": "action items by due month"}},
                                            hovermode="closest")}


def team_scores_figure(teams, snapshots_by_team: dict[int | None, list[MetricSnapshot]], months,
                       organisation_url) -> dict | None:
    """The organisation page: learning efficiency over time, one line per team (and the organisation)."""
    x = [m.short_label for m in months]
    data = []
    for team in teams:
        scores = _values(_by_month(snapshots_by_team.get(team.pk, []), months), "learning_efficiency_score")
        if any(value is not None for value in scores):
            data.append(_line(team.name, x, scores, [team_dashboard_url(team.slug, m, m) for m in months],
                              hovertemplate=f"{team.name}: %{{y:.2f}}<extra></extra>"))
    if not data:
        return None
    organisation = _values(_by_month(snapshots_by_team.get(None, []), months), "learning_efficiency_score")
    data.append(_line("Organisation", x, organisation, [organisation_url(m) for m in months],
                      line={"dash": "dash", "color": "#1d2330", "width": 3},
                      hovertemplate="Organisation: %{y:.2f}<extra></extra>"))
    return {"data": data, "layout": _layout(yaxis={"range": [0, 1], "title": {"text": "score"}}, hovermode="closest")}


def team_comparison_figure(teams, snapshots: dict[int, MetricSnapshot], month: Month) -> dict | None:
    """The organisation page: the selected month's rates side by side, one group per team."""
    shown = [team for team in teams if team.pk in snapshots]
    if not shown or all(snapshots[t.pk].learning_efficiency_score is None for t in shown):
        return None
    x = [team.name for team in shown]
    metrics = [
        ("Learning efficiency", "learning_efficiency_score", lambda t: team_dashboard_url(t.slug, month, month)),
        ("Repeat failure rate", "repeat_failure_rate",
         lambda t: DrillDown(t.slug).failed_experiments(month, repeat=True)),
        ("Lesson application rate", "lesson_application_rate",
         lambda t: DrillDown(t.slug).lessons_in_window(month, applied=True)),
        ("Innovation index", "innovation_index", lambda t: DrillDown(t.slug).novel_experiments(month)),
        ("Action items done on time", "action_item_completion_rate",
         lambda t: DrillDown(t.slug).action_items_due(month, status="done")),
    ]
    data = [{"type": "bar", "name": name, "x": x, "y": [getattr(snapshots[t.pk], attribute) for t in shown],
             "customdata": [url(t) for t in shown], "hovertemplate": f"{name}: %{{y:.2f}}<extra></extra>"}
            for name, attribute, url in metrics]
    return {"data": data, "layout": _layout(barmode="group", yaxis={"range": [0, 1]}, hovermode="closest")}
