"""Plotly plumbing shared by every chart: figures go to the page as JSON, plotly.js is ours."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import plotly.graph_objects as go
from plotly.io import to_json

# The vendored partial bundle the pages load (static/vendor/plotly/); this route serves it too.
PLOTLY_JS_PATH = Path(__file__).resolve().parents[2] / "static" / "vendor" / "plotly" / "plotly-basic.min.js"


@cache
def plotly_js() -> tuple[bytes, str]:
    """The bundled plotly.min.js and a content hash used to cache it forever under a versioned URL."""
    content = PLOTLY_JS_PATH.read_bytes()
    return content, hashlib.sha256(content).hexdigest()[:16]


def figure_json(figure: go.Figure) -> str:
    """Serialise a figure for ``partials/_chart.html`` (Plotly's own encoder handles dates and numpy)."""
    return to_json(figure, validate=False)


def base_layout(**overrides) -> dict:
    layout = {
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
    }
    layout.update(overrides)
    return layout
