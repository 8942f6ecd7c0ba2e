"""Pure Plotly figure builders for the registry (data in, JSON out; no ORM)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from learninghub.kernel.charts import base_layout, figure_json

CURRENT_COLOUR = "#b42318"
LINE_COLOUR = "#2f5bea"


@dataclass(frozen=True)
class ChainPoint:
    label: str
    url: str
    metrics: dict
    is_current: bool = False


def shared_metric_names(points: Sequence[ChainPoint]) -> list[str]:
    """Metric names recorded by at least two experiments of the chain, in order of first use."""
    counts: dict[str, int] = {}
    for point in points:
        for name, value in point.metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                counts[name] = counts.get(name, 0) + 1
    return [name for name, count in counts.items() if count >= 2]


def lineage_metric_figures(points: Sequence[ChainPoint]) -> list[tuple[str, str]]:
    """One line chart per shared metric across the lineage chain: ``[(metric, figure JSON)]``.

    Each point links (customdata[0]) to its experiment; the experiment being viewed is marked.
    """
    figures = []
    labels = _unique_labels(points)
    for name in shared_metric_names(points):
        xs, ys, custom, sizes, colours = [], [], [], [], []
        for label, point in zip(labels, points, strict=True):
            value = point.metrics.get(name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            xs.append(label)
            ys.append(value)
            custom.append([point.url, point.label])
            sizes.append(14 if point.is_current else 9)
            colours.append(CURRENT_COLOUR if point.is_current else LINE_COLOUR)
        top = max(*ys, 0)
        figure = go.Figure(
            go.Scatter(
                x=xs, y=ys, customdata=custom, mode="lines+markers+text", name=name,
                text=[_format(value) for value in ys], textposition="top center", cliponaxis=False,
                marker={"size": sizes, "color": colours}, line={"color": LINE_COLOUR},
                hovertemplate="%{customdata[1]}<br>" + name + ": %{y}<extra>click to open</extra>",
            ),
            layout=base_layout(
                height=340, showlegend=False, hovermode="closest",
                xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels, "tickangle": -25,
                       "automargin": True},
                yaxis={"title": {"text": name}, "range": [min(*ys, 0) * 1.1, top * 1.2 if top > 0 else 1],
                       "automargin": True},
                margin={"l": 60, "r": 20, "t": 30, "b": 40},
            ),
        )
        figures.append((name, figure_json(figure)))
    return figures


def _unique_labels(points: Sequence[ChainPoint], max_length: int = 24) -> list[str]:
    """Short axis labels (the full title is in the hover), unique so no two points merge."""
    labels: list[str] = []
    for point in points:
        label = point.label if len(point.label) <= max_length else point.label[: max_length - 1].rstrip() + "…"
        while label in labels:
            label = f"{label} ′"
        labels.append(label)
    return labels


def _format(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.4g}"
