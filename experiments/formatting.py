"""Small formatting helpers shared by pages, the Markdown export and the API."""

from __future__ import annotations

import datetime as dt


def format_duration(duration: dt.timedelta | None) -> str:
    """“14 days”, “5 hours”, “12 minutes”; “ongoing” for an experiment still running."""
    if duration is None:
        return "ongoing"
    seconds = duration.total_seconds()
    for unit_seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= unit_seconds:
            count = round(seconds / unit_seconds)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "under a minute"


def format_metric(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.6g}" if abs(value) >= 1 else f"{value:.4g}"
