"""Parsing the moments people and tooling type: a date or an ISO date and time."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

# Real UTC offsets lie between -12:00 and +14:00, in whole quarter hours (+05:45, +08:45).
MAX_OFFSET = dt.timedelta(hours=14)
OFFSET_STEP = dt.timedelta(minutes=15)
# What looks like a date or an ISO date and time (checked at the edge, see ``moment_problem``).
ISO_MOMENT = re.compile(
    r"^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?\s*$",
    re.IGNORECASE)


def offset_problem(moment: dt.datetime) -> str | None:
    """Why an aware moment's UTC offset is not a real one (or None when it is)."""
    offset = moment.utcoffset()
    if offset is None:
        return None
    if abs(offset) > MAX_OFFSET or offset % OFFSET_STEP:
        return "Give a real UTC offset (between -12:00 and +14:00, in quarter hours)."
    return None


def _as_utc(moment: dt.datetime) -> dt.datetime | None:
    try:
        return moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def parse_moment(value: str) -> dt.datetime | None:
    """``2026-11-01`` (midnight, in the site's time zone) or ``2026-11-01T08:00:00Z``, as an
    aware datetime; None when it is neither (including impossible dates such as 2026-02-30, odd
    UTC offsets such as +14:34, and moments that fall outside years 1–9999 in UTC)."""
    value = value.strip()
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = dt.datetime.combine(day, dt.time.min) if day else None
    except ValueError:
        return None
    if moment is None:
        return None
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
    except (OverflowError, ValueError):
        return None
    if offset_problem(moment) or _as_utc(moment) is None:
        return None
    return moment


def moment_problem(value: str, *, min_year: int = 1, max_year: int = 9999) -> str | None:
    """Why ``value``, which looks like an ISO date or moment, is not one this app can store or
    compare (None when it is fine or does not look like a moment at all: then it is plain text).

    Used at the request edge on every field, so that no serializer or form can let an
    unrepresentable moment reach the database or the month arithmetic.
    """
    if not ISO_MOMENT.match(value):
        return None
    try:
        moment = parse_datetime(value.strip())
        if moment is None:
            day = parse_date(value.strip())
            moment = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC) if day else None
    except ValueError:
        return None  # not a real date: the field's own validation says so
    if moment is None:
        return None
    if problem := offset_problem(moment):
        return problem
    utc = _as_utc(moment) if timezone.is_aware(moment) else moment
    if utc is None or not min_year <= utc.year <= max_year:
        return f"Give a moment between the years {min_year} and {max_year}."
    return None
