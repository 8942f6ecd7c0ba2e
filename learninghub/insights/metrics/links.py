"""Drill-down URLs: every number on the dashboards opens the records behind it.

The lists belong to other apps; their URL names are resolved lazily and a list that does not
exist (yet) gives ``None`` (the number is then shown without a link) instead of an error.
Query parameters follow the shared vocabulary (``X_after`` on or after, ``X_before`` strictly
before). Moments are passed as UTC ISO datetimes (``Month.query_bounds``): the lists read a bare
date as local midnight, which is not where a UTC month begins. Due dates are calendar days, so
they are passed as dates (``Month.day_bounds``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch, reverse

from learninghub.insights.metrics.engine import LESSON_WINDOW
from learninghub.kernel.periods import Month, utc_iso

EXPERIMENTS = "experiments:list"
LESSONS = "experiments:lessons"
POSTMORTEMS = "postmortems:list"
ACTION_ITEMS = "postmortems:action-items"


@lru_cache(maxsize=4096)
def _path(url_name: str, args: tuple) -> str | None:
    """Dashboards build hundreds of links per page: reverse each (name, args) once."""
    try:
        return reverse(url_name, args=args)
    except NoReverseMatch:
        return None


@receiver(setting_changed)
def _forget_paths(setting: str, **kwargs) -> None:
    if setting == "ROOT_URLCONF":
        _path.cache_clear()


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~:-]*")  # what ``quote(value, safe=":")`` leaves as it is


@lru_cache(maxsize=16384)
def _quote(value: str | int) -> str:
    """A query value, quoted; each value once (a page repeats the same month bounds hundreds of times)."""
    text = str(value)
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe=":")


def _query(params: dict) -> str:
    """``urlencode`` for the simple values used here (slugs, dates, choices), without its overhead:
    most values (slugs, ISO moments) need no quoting at all."""
    return "&".join(f"{key}={_quote(value)}" for key, value in params.items() if value not in (None, ""))


def build_url(url_name: str, *args, **params) -> str | None:
    """``reverse(url_name)`` plus a query string of the non-empty ``params``; None if unknown."""
    base = _path(url_name, args)
    if base is None:
        return None
    query = _query(params)
    return f"{base}?{query}" if query else base


@lru_cache(maxsize=1024)
def _month_bounds(month: Month) -> tuple[str, str]:
    bounds = month.query_bounds()
    return bounds["after"], bounds["before"]


@lru_cache(maxsize=1024)
def _lesson_window(month: Month) -> tuple[str, str]:
    return utc_iso(month.end - LESSON_WINDOW), utc_iso(month.end)


@lru_cache(maxsize=1024)
def _due_bounds(month: Month) -> tuple[str, str]:
    bounds = month.day_bounds()
    return bounds["after"], bounds["before"]


class DrillDown:
    """The list URLs behind one team's (``team_slug``; None: every team's) monthly figures.

    A dashboard asks for the same link many times (a card, the monthly table, a chart's point):
    each instance builds each URL once (a page uses one instance per team)."""

    def __init__(self, team_slug: str | None) -> None:
        self.team = team_slug
        self._urls: dict[tuple, str | None] = {}

    def _url(self, url_name: str, **params) -> str | None:
        key = (url_name, *params.items())
        if key in self._urls:
            return self._urls[key]
        base = _path(url_name, ())
        query = _query({"team": self.team, **params}) if base is not None else ""
        url = None if base is None else f"{base}?{query}" if query else base
        self._urls[key] = url
        return url

    @staticmethod
    def _bounds(month: Month) -> tuple[str, str]:
        return _month_bounds(month)

    def experiments_started(self, month: Month, **extra) -> str | None:
        after, before = self._bounds(month)
        return self._url(EXPERIMENTS, started_after=after, started_before=before, **extra)

    def novel_experiments(self, month: Month) -> str | None:
        return self.experiments_started(month, is_novel="true")

    def failed_experiments(self, month: Month, *, failure_mode: str = "", failure_kind: str = "",
                           repeat: bool = False) -> str | None:
        after, before = self._bounds(month)
        return self._url(EXPERIMENTS, outcome="failure", failure_mode=failure_mode, failure_kind=failure_kind,
                         ended_after=after, ended_before=before, repeat="true" if repeat else "")

    def postmortems_occurred(self, month: Month, *, failure_mode: str = "", repeat: bool = False) -> str | None:
        after, before = self._bounds(month)
        return self._url(POSTMORTEMS, failure_mode=failure_mode, occurred_after=after, occurred_before=before,
                         repeat="true" if repeat else "")

    def postmortems_resolved(self, month: Month) -> str | None:
        after, before = self._bounds(month)
        return self._url(POSTMORTEMS, resolved_after=after, resolved_before=before)

    def lessons_in_window(self, month: Month, *, applied: bool = False) -> str | None:
        """Lessons documented in ``[end − 365 days, end)`` (and applied before ``end``)."""
        start, end = _lesson_window(month)
        return self._url(LESSONS, documented_after=start, documented_before=end,
                         applied_before=end if applied else "")

    def action_items_due(self, month: Month, **extra) -> str | None:
        after, before = _due_bounds(month)
        return self._url(ACTION_ITEMS, due_after=after, due_before=before, **extra)


def team_dashboard_url(slug: str, first: Month | None = None, last: Month | None = None) -> str | None:
    params = {}
    if first:
        params["from"] = first.key
    if last:
        params["to"] = last.key
    return build_url("dashboards:team", slug, **params)
