"""Plotly figures for the dashboards, as plain dicts (no figure validation on the request path).

Every point and bar carries the URL of the records behind it in ``customdata``; the shared
``static/js/charts.js`` opens it on click. A chart whose data is all empty is not drawn: the
builder returns None and the page shows an empty state explaining what to record instead.
Every drawn chart also has its data as a table (``data_table``), its text alternative.
"""

from __future__ import annotations

import json
from functools import lru_cache

from learninghub.insights.metrics.links import DrillDown, team_dashboard_url
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.insights.metrics.presenters import fmt_hours, fmt_rate, fmt_score, fmt_velocity
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


# --- The text alternative of a chart ---------------------------------------------------------
# Each trace may carry a private "_format" (how its values read in a table: count, rate, score,
# velocity, hours); ``data_table`` removes it before the figure is serialised.

FORMATS = {"count": lambda v: f"{v:,}", "rate": fmt_rate, "score": fmt_score, "velocity": fmt_velocity,
           "hours": fmt_hours}


def data_table(figure: dict) -> dict:
    """The figure's data as a table for screen readers (and anyone who prefers numbers): one row
    per x value, one column per trace. Removes the traces' ``_format`` hints."""
    traces = figure["data"]
    formats = [FORMATS[trace.pop("_format", "count")] for trace in traces]
    x = traces[0]["x"] if traces else []
    rows = []
    for index, label in enumerate(x):
        values = []
        for trace, fmt in zip(traces, formats, strict=True):
            value = trace["y"][index] if index < len(trace["y"]) else None
            values.append("—" if value is None else fmt(value))
        rows.append((label, values))
    heading = figure["layout"].get("xaxis", {}).get("title", {}).get("text") or "Month"
    return {"columns": [heading, *(trace["name"] for trace in traces)], "rows": rows}


# --- Layout pieces ----------------------------------------------------------------------------


def _layout(**overrides) -> dict:
    """The base layout with axes that never clip: labels get the room they need (``automargin``)
    and month labels thin out by themselves on long ranges."""
    layout = base_layout(**overrides)
    layout.setdefault("xaxis", {"type": "category"})
    layout["xaxis"] = {"automargin": True, **layout["xaxis"]}
    layout["yaxis"] = {"automargin": True, **layout.get("yaxis", {})}
    layout["margin"] = {"l": 50, "r": 30, "t": 30, "b": 40, **overrides.get("margin", {})}
    # The legend sits above the plot: below it, it collided with the month labels.
    layout["legend"] = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}
    return layout


# Ratios and scores run from 0 to 1; a little room either side keeps points at 0 or 1 visible
# off the axis line.
UNIT_RANGE = [-0.04, 1.05]


def _rate_axis(title: str = "") -> dict:
    return {"tickformat": ".0%", "range": UNIT_RANGE, "dtick": 0.25, "title": {"text": title}}


def _count_axis(title: str, peak: float) -> dict:
    """Counts are whole numbers: integer ticks (one per unit up to ten), never 0.5 of a failure."""
    axis = {"title": {"text": title}, "rangemode": "tozero", "tickformat": ",d"}
    if peak <= 10:
        axis["dtick"] = 1
    return axis


def _stacked_peak(traces: list[dict]) -> float:
    """The tallest stack of bar traces (the y axis must reach it)."""
    bars = [trace["y"] for trace in traces if trace["type"] == "bar"]
    return max((sum(v or 0 for v in column) for column in zip(*bars, strict=True)), default=0)


@lru_cache(maxsize=1024)
def _label(month: Month) -> str:
    return month.short_label


def _labels(months: list[Month]) -> list[str]:
    """The x axis: months as ``Nov 2026`` (``strftime`` once per month, not once per chart)."""
    return [_label(month) for month in months]


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
    x = _labels(months)
    urls = [team_dashboard_url(team_slug, m, m) for m in months]
    trace = _line("Learning efficiency", x, scores, urls, hovertemplate="%{x}: %{y:.2f}<extra></extra>",
                  _format="score")
    return {"data": [trace], "layout": _layout(yaxis={"range": UNIT_RANGE, "dtick": 0.25, "title": {"text": "score"}},
                                                 showlegend=False)}


# The four ratios of the score, each its own chart: on one shared axis their lines crossed and
# hid each other, and "lower is better" (repeats) sat beside three "higher is better".
RATES = {
    "repeat": ("Repeat failure rate", "repeat_failure_rate", "#b42318",
               lambda drill, m: drill.failed_experiments(m, repeat=True)),
    "lessons": ("Lesson application rate", "lesson_application_rate", "#13795b",
                lambda drill, m: drill.lessons_in_window(m, applied=True)),
    "innovation": ("Innovation index", "innovation_index", "#b54708", lambda drill, m: drill.novel_experiments(m)),
    "completion": ("Action items done on time", "action_item_completion_rate", "#2f5bea",
                   lambda drill, m: drill.action_items_due(m, status="done")),
}


def rate_figure(key: str, snapshots, months, drill: DrillDown) -> dict | None:
    """One of the score's ratios over the months (``key`` of :data:`RATES`)."""
    name, attribute, colour, url = RATES[key]
    values = _values(_by_month(snapshots, months), attribute)
    if all(value is None for value in values):
        return None
    x = _labels(months)
    trace = _line(name, x, values, [url(drill, m) for m in months], marker={"color": colour},
                  line={"color": colour}, hovertemplate=f"%{{x}}: %{{y:.0%}}<extra>{name}</extra>", _format="rate")
    return {"data": [trace], "layout": _layout(yaxis=_rate_axis(), showlegend=False, hovermode="closest")}


def velocity_figure(snapshots, months, drill: DrillDown) -> dict | None:
    """Experiments per week as bars; the count behind each bar is in its tooltip, not printed on
    it (printed labels collide on long ranges)."""
    series = _by_month(snapshots, months)
    started = _values(series, "experiments_started")
    if not any(started):
        return None
    x = _labels(months)
    data = [
        {"type": "bar", "name": "Experiments per week", "x": x, "y": _values(series, "experiment_velocity"),
         "customdata": [drill.experiments_started(m) for m in months], "marker": {"color": "#2f5bea"},
         "hovertext": [f"{n or 0:,} started" for n in started], "textposition": "none",
         "hovertemplate": "%{x}: %{y:.1f} per week (%{hovertext})<extra></extra>", "_format": "velocity"},
    ]
    layout = _layout(yaxis={"title": {"text": "experiments per week"}, "rangemode": "tozero"}, showlegend=False,
                     hovermode="closest")
    return {"data": data, "layout": layout}


def recovery_figure(snapshots, months, drill: DrillDown) -> dict | None:
    """Median and 90th percentile of recovery time, and the mean time to detect. Means are left
    out: one outage of weeks drags a month's mean far from every other incident. The axis is
    logarithmic when the values span more than a factor of 20, so one outlier does not flatten
    every other month."""
    series = _by_month(snapshots, months)
    if not any(_values(series, "recovery_time_samples")) and not any(_values(series, "time_to_detect_samples")):
        return None
    x = _labels(months)
    urls = [drill.postmortems_resolved(m) for m in months]
    data = [
        _line("Recovery, median", x, _values(series, "failure_recovery_time_median"), urls,
              line={"width": 3, "color": "#2f5bea"}, marker={"color": "#2f5bea"},
              hovertemplate="%{x}: median %{y:.1f} h<extra></extra>", _format="hours"),
        _line("Recovery, 90th percentile", x, _values(series, "failure_recovery_time_p90"), urls,
              line={"dash": "dash", "color": "#7a5af8"}, marker={"color": "#7a5af8"},
              hovertemplate="%{x}: 90th percentile %{y:.1f} h<extra></extra>", _format="hours"),
        _line("Time to detect, mean", x, _values(series, "time_to_detect"), urls,
              line={"dash": "dot", "color": "#b54708"}, marker={"color": "#b54708"},
              hovertemplate="%{x}: detected after %{y:.1f} h<extra></extra>", _format="hours"),
    ]
    positive = [v for trace in data for v in trace["y"] if v is not None and v > 0]
    axis = {"title": {"text": "hours"}, "rangemode": "tozero"}
    if positive and max(positive) > 20 * min(positive):
        axis = {"title": {"text": "hours (log scale)"}, "type": "log", "dtick": 1}  # 0.1, 1, 10, 100 …
    return {"data": data, "layout": _layout(yaxis=axis, hovermode="closest")}


def failure_modes_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    if not any(_values(series, "failures")):
        return None
    x = _labels(months)
    experiment_modes = [(s.experiment_failures_by_mode or {}) if s else {} for s in series]
    postmortem_modes = [s.postmortem_failures_by_mode if s else {} for s in series]
    data = []
    for mode in MODE_ORDER:
        experiments = [by_mode.get(mode, 0) for by_mode in experiment_modes]
        postmortems = [by_mode.get(mode, 0) for by_mode in postmortem_modes]
        colour = MODE_COLOURS[mode]
        if any(experiments):
            data.append({"type": "bar", "name": f"{MODE_LABELS[mode]} · experiments", "x": x, "y": experiments,
                         "legendgroup": mode, "marker": {"color": colour},
                         "customdata": [drill.failed_experiments(m, failure_mode=mode) for m in months],
                         "hovertemplate": f"%{{x}}: %{{y}} failed experiments<extra>{MODE_LABELS[mode]}</extra>"})
        if any(postmortems):
            data.append({"type": "bar", "name": f"{MODE_LABELS[mode]} · post-mortems", "x": x, "y": postmortems,
                         "legendgroup": mode, "marker": {"color": colour, "pattern": {"shape": "/"}},
                         "customdata": [drill.postmortems_occurred(m, failure_mode=mode) for m in months],
                         "hovertemplate": f"%{{x}}: %{{y}} post-mortems<extra>{MODE_LABELS[mode]}</extra>"})
    return {"data": data, "layout": _layout(barmode="stack", yaxis=_count_axis("failures", _stacked_peak(data)),
                                            hovermode="closest")}


def failure_kinds_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    if not any(_values(series, "experiment_failures")):
        return None
    x = _labels(months)
    data = []
    for kind in KIND_ORDER:
        counts = [(s.failures_by_kind or {}).get(kind, 0) if s else 0 for s in series]
        if any(counts):
            data.append({"type": "bar", "name": KIND_LABELS[kind], "x": x, "y": counts,
                         "marker": {"color": KIND_COLOURS[kind]},
                         "customdata": [drill.failed_experiments(m, failure_kind=kind) for m in months],
                         "hovertemplate": f"%{{x}}: %{{y}}<extra>{KIND_LABELS[kind]}</extra>"})
    return {"data": data, "layout": _layout(barmode="stack",
                                            yaxis=_count_axis("failed experiments", _stacked_peak(data)),
                                            hovermode="closest")}


def action_items_figure(snapshots, months, drill: DrillDown) -> dict | None:
    series = _by_month(snapshots, months)
    if not any(_values(series, "action_items_due")):
        return None
    x = _labels(months)
    segments = [("Done", "action_items_done", "done", "#13795b"),
                ("Won't do", "action_items_wont_do", "wont_do", "#98a2b3"),
                ("In progress", "action_items_in_progress", "in_progress", "#f79009"),
                ("Open", "action_items_open", "open", "#2f5bea")]
    data = [{"type": "bar", "name": name, "x": x, "y": [v or 0 for v in _values(series, attribute)],
             "marker": {"color": colour}, "customdata": [drill.action_items_due(m, status=status) for m in months],
             "hovertemplate": f"%{{x}}: %{{y}}<extra>{name}</extra>"}
            for name, attribute, status, colour in segments]
    data.append(_line("Overdue", x, [v or 0 for v in _values(series, "action_items_overdue")],
                      [drill.action_items_due(m, overdue="true") for m in months],
                      marker={"color": "#b42318", "size": 9}, line={"color": "#b42318"},
                      hovertemplate="%{x}: %{y} overdue<extra></extra>"))
    peak = max(_stacked_peak(data), max(data[-1]["y"], default=0))
    return {"data": data, "layout": _layout(barmode="stack",
                                            yaxis=_count_axis("action items by due month", peak),
                                            hovermode="closest")}


def team_scores_figure(teams, snapshots_by_team: dict[int | None, list[MetricSnapshot]], months,
                       organisation_url) -> dict | None:
    """The organisation page: learning efficiency over time, one line per team (and the organisation)."""
    x = _labels(months)
    data = []
    for team in teams:
        scores = _values(_by_month(snapshots_by_team.get(team.pk, []), months), "learning_efficiency_score")
        if any(value is not None for value in scores):
            data.append(_line(team.name, x, scores, [team_dashboard_url(team.slug, m, m) for m in months],
                              hovertemplate=f"{team.name}: %{{y:.2f}}<extra></extra>", _format="score"))
    if not data:
        return None
    organisation = _values(_by_month(snapshots_by_team.get(None, []), months), "learning_efficiency_score")
    data.append(_line("Organisation", x, organisation, [organisation_url(m) for m in months],
                      line={"dash": "dash", "color": "#1d2330", "width": 3},
                      hovertemplate="Organisation: %{y:.2f}<extra></extra>", _format="score"))
    return {"data": data, "layout": _layout(yaxis={"range": UNIT_RANGE, "dtick": 0.25, "title": {"text": "score"}},
                                            hovermode="closest")}


def team_comparison_figure(teams, snapshots: dict[int, MetricSnapshot], month: Month) -> dict | None:
    """The organisation page: the selected month's rates side by side, one group per team."""
    shown = [team for team in teams if team.pk in snapshots]
    if not shown or all(snapshots[t.pk].learning_efficiency_score is None for t in shown):
        return None
    x = [team.name for team in shown]
    drills = {team.pk: DrillDown(team.slug) for team in shown}
    metrics = [
        ("Learning efficiency", "learning_efficiency_score", lambda t: team_dashboard_url(t.slug, month, month)),
        ("Repeat failure rate", "repeat_failure_rate",
         lambda t: drills[t.pk].failed_experiments(month, repeat=True)),
        ("Lesson application rate", "lesson_application_rate",
         lambda t: drills[t.pk].lessons_in_window(month, applied=True)),
        ("Innovation index", "innovation_index", lambda t: drills[t.pk].novel_experiments(month)),
        ("Action items done on time", "action_item_completion_rate",
         lambda t: drills[t.pk].action_items_due(month, status="done")),
    ]
    data = [{"type": "bar", "name": name, "x": x, "y": [getattr(snapshots[t.pk], attribute) for t in shown],
             "customdata": [url(t) for t in shown], "hovertemplate": f"%{{x}}: %{{y:.2f}}<extra>{name}</extra>",
             "_format": "score"}
            for name, attribute, url in metrics]
    layout = _layout(barmode="group", yaxis={"range": UNIT_RANGE, "dtick": 0.25}, hovermode="closest",
                     xaxis={"type": "category", "tickangle": -30, "title": {"text": "Team"}})
    return {"data": data, "layout": layout}
