"""The one Month type: parsing, UTC boundaries, stepping across years, and query bounds."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from learninghub.kernel.periods import Month, months_between

NOVEMBER = Month(2026, 11)


@pytest.mark.parametrize("value", ["2026-11", " 2026-11 ", "2026-11\n"])
def test_parse_reads_year_and_month(value):
    assert Month.parse(value) == NOVEMBER


@pytest.mark.parametrize("value, message", [
    ("", "YYYY-MM"), ("2026", "YYYY-MM"), ("2026-1", "YYYY-MM"), ("2026-11-01", "YYYY-MM"), ("Nov 2026", "YYYY-MM"),
    ("2026-1\x00", "YYYY-MM"), ("2026-13", "between 1970-01 and 2999-12"), ("2026-00", "between"),
    ("1969-12", "between"), ("3000-01", "between"),
])
def test_parse_refuses_anything_else_with_a_readable_message(value, message):
    with pytest.raises(ValueError, match=message):
        Month.parse(value)


def test_constructing_an_impossible_month_fails():
    with pytest.raises(ValueError):
        Month(2026, 13)


def test_boundaries_are_utc_midnights_start_included_end_excluded():
    assert NOVEMBER.start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert NOVEMBER.end == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert NOVEMBER.first_day == dt.date(2026, 11, 1)
    assert NOVEMBER.last_day == dt.date(2026, 11, 30)
    assert NOVEMBER.days == 30
    assert Month(2028, 2).days == 29 and Month(2026, 2).last_day == dt.date(2026, 2, 28)
    assert NOVEMBER.contains(NOVEMBER.start)
    assert not NOVEMBER.contains(NOVEMBER.end)
    assert NOVEMBER.contains(NOVEMBER.end - dt.timedelta(microseconds=1))


def test_next_previous_and_shift_cross_years():
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2027, 1).previous() == Month(2026, 12)
    assert NOVEMBER.shift(14) == Month(2028, 1)
    assert NOVEMBER.shift(-11) == Month(2025, 12)
    assert NOVEMBER.shift(0) == NOVEMBER
    assert Month.range(Month(2026, 11), Month(2027, 2)) == [
        Month(2026, 11), Month(2026, 12), Month(2027, 1), Month(2027, 2)]
    assert Month.range(Month(2027, 2), Month(2026, 11)) == []
    assert Month(2026, 12).end == Month(2027, 1).start


def test_months_are_ordered_hashable_and_labelled():
    assert Month(2025, 12) < Month(2026, 1) < NOVEMBER
    assert len({Month(2026, 11), Month.parse("2026-11")}) == 1
    assert (NOVEMBER.key, str(NOVEMBER), NOVEMBER.label, NOVEMBER.short_label) == (
        "2026-11", "2026-11", "November 2026", "Nov 2026")


def test_query_bounds_are_utc_iso_datetimes_and_day_bounds_are_dates():
    assert NOVEMBER.query_bounds() == {"after": "2026-11-01T00:00:00Z", "before": "2026-12-01T00:00:00Z"}
    assert Month(2026, 12).day_bounds() == {"after": "2026-12-01", "before": "2027-01-01"}


def test_of_reads_an_aware_datetime_in_utc_whatever_its_zone():
    paris = ZoneInfo("Europe/Paris")
    # 00:30 in Paris on 1 November is still 31 October in UTC.
    assert Month.of(dt.datetime(2026, 11, 1, 0, 30, tzinfo=paris)) == Month(2026, 10)
    new_york = ZoneInfo("America/New_York")
    # 20:00 in New York on 31 October is already 1 November in UTC.
    assert Month.of(dt.datetime(2026, 10, 31, 20, 0, tzinfo=new_york)) == NOVEMBER
    assert Month.of(dt.date(2026, 11, 30)) == NOVEMBER
    assert Month.of(NOVEMBER) is NOVEMBER
    with pytest.raises(ValueError, match="naive"):
        Month.of(dt.datetime(2026, 11, 1, 12))  # noqa: DTZ001 - the point is that it is naive


@time_machine.travel(dt.datetime(2027, 1, 1, 0, 30, tzinfo=dt.UTC))
def test_current_and_last_complete_follow_the_utc_clock(settings):
    settings.TIME_ZONE = "America/Los_Angeles"  # still 31 December there
    assert Month.current() == Month(2027, 1)
    assert Month.last_complete() == Month(2026, 12)
    assert Month(2026, 12).is_complete() and not Month(2027, 1).is_complete()


def test_months_between_covers_every_month_touched():
    first = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)
    last = dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)
    assert months_between(last, first) == [Month(2026, 10), NOVEMBER, Month(2026, 12)]
