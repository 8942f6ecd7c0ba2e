"""What a month is, once: a calendar month in UTC, ``[start, end)``.

Metrics, dashboards, drill-down links, awards, filters and the API all use :class:`Month`, so a
figure and the list behind it always agree on where a month begins, whatever the site's or the
host's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils import timezone

UTC = dt.UTC
_MONTH_KEY = re.compile(r"^\s*(\d{4})-(\d{2})\s*$")
# The months a person or a tool may ask about: wide enough for any real history, narrow enough
# that ``start``/``end`` are always representable datetimes.
MIN_YEAR = 1970
MAX_YEAR = 2999


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A calendar month in UTC. Ordered, hashable, and JSON-friendly through :attr:`key`."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (MIN_YEAR <= self.year <= MAX_YEAR and 1 <= self.month <= 12):
            raise ValueError(f"No such month: {self.year}-{self.month:02d}")

    # Constructors -------------------------------------------------------------------------------

    @classmethod
    def of(cls, moment: Month | dt.date | dt.datetime) -> Month:
        """The month containing ``moment``: an aware datetime is read in UTC, a date as it is (a
        month is itself), so ``Month.of`` converts whatever an edge hands over."""
        if isinstance(moment, Month):
            return moment
        if isinstance(moment, dt.datetime):
            if timezone.is_naive(moment):
                raise ValueError("A naive datetime has no month in UTC; make it aware first.")
            moment = moment.astimezone(UTC)
        return cls(moment.year, moment.month)

    @classmethod
    def parse(cls, value: str) -> Month:
        """``"2026-11"`` → November 2026; ValueError with a readable message for anything else."""
        match = _MONTH_KEY.match(value or "")
        if not match:
            raise ValueError(f"Enter a month as YYYY-MM, not {value!r}.")
        try:
            return cls(int(match.group(1)), int(match.group(2)))
        except ValueError as exc:
            raise ValueError(f"Enter a month between {MIN_YEAR}-01 and {MAX_YEAR}-12, not {value!r}.") from exc

    @classmethod
    def current(cls, now: dt.datetime | None = None) -> Month:
        """The month in progress (UTC) at ``now`` (default: the clock)."""
        return cls.of(now or timezone.now())

    @classmethod
    def last_complete(cls, now: dt.datetime | None = None) -> Month:
        return cls.current(now).previous()

    @classmethod
    def range(cls, first: Month, last: Month) -> list[Month]:
        """Every month from ``first`` to ``last``, both included (empty when ``first > last``)."""
        return list(first.iter_until(last))

    # Views ---------------------------------------------------------------------------------------

    @property
    def key(self) -> str:
        """``YYYY-MM``: in URLs, task arguments and the API."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        """The date the snapshot tables store for this month."""
        return dt.date(self.year, self.month, 1)

    @property
    def start(self) -> dt.datetime:
        """Midnight UTC on the 1st, included."""
        return dt.datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> dt.datetime:
        """Midnight UTC on the next month's 1st, excluded."""
        return self.next().start if self != Month(MAX_YEAR, 12) else dt.datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def label(self) -> str:
        """``November 2026``."""
        return self.first_day.strftime("%B %Y")

    @property
    def short_label(self) -> str:
        """``Nov 2026``."""
        return self.first_day.strftime("%b %Y")

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def iter_until(self, last: Month) -> Iterator[Month]:
        month = self
        while month <= last:
            yield month
            if month == Month(MAX_YEAR, 12):
                return
            month = month.next()

    def contains(self, moment: dt.date | dt.datetime) -> bool:
        return Month.of(moment) == self

    def is_complete(self, now: dt.datetime | None = None) -> bool:
        return self < Month.current(now)

    def query_bounds(self) -> dict[str, str]:
        """``[start, end)`` as UTC ISO datetimes, for drill-down links (``<field>_after`` /
        ``<field>_before``): a bare date would be read as local midnight by the filters."""
        return {"after": utc_iso(self.start), "before": utc_iso(self.end)}

    def day_bounds(self) -> dict[str, str]:
        """``[first_day, next month's first day)`` as YYYY-MM-DD, for date fields (due dates): a
        calendar day has no time zone, so bare dates are exact there."""
        return {"after": self.first_day.isoformat(), "before": (self.last_day + dt.timedelta(days=1)).isoformat()}

    def __str__(self) -> str:
        return self.key


def utc_iso(moment: dt.datetime) -> str:
    """An aware datetime as a UTC ISO string: ``2026-11-01T00:00:00Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def months_between(first: dt.date | dt.datetime, last: dt.date | dt.datetime) -> list[Month]:
    """Every month touched by the span from ``first`` to ``last`` (both included)."""
    start, stop = sorted((Month.of(first), Month.of(last)))
    return Month.range(start, stop)
