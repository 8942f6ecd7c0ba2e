"""Parsing the moments people and tooling type: a date or an ISO date and time."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


def parse_moment(value: str) -> dt.datetime | None:
    """``2026-11-01`` (midnight, in the site's time zone) or ``2026-11-01T08:00:00Z``, as an
    aware datetime; None when it is neither (including impossible dates such as 2026-02-30)."""
    value = value.strip()
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = dt.datetime.combine(day, dt.time.min) if day else None
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
