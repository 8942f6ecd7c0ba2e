"""The suite's clock: the ``clock`` fixture, and ``LEARNINGHUB_TEST_NOW`` for the whole suite."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.utils import timezone

from learninghub.kernel.periods import Month
from tests.conftest import DEFAULT_NOW, TEST_NOW_VARIABLE


def test_the_clock_stops_mid_month_by_default(clock):
    assert timezone.now() == DEFAULT_NOW
    assert Month.current() == Month(2026, 11)


@pytest.mark.clock(dt.datetime(2027, 3, 1, 0, 10, tzinfo=dt.UTC))
def test_a_test_chooses_its_moment_with_the_marker(clock):
    assert timezone.now() == dt.datetime(2027, 3, 1, 0, 10, tzinfo=dt.UTC)


def test_the_clock_moves_on_when_told(clock):
    clock.shift(dt.timedelta(days=12, hours=14))
    assert timezone.now() == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
    assert Month.current() == Month(2026, 12)


@pytest.mark.skipif(not os.environ.get(TEST_NOW_VARIABLE), reason=f"{TEST_NOW_VARIABLE} is not set")
def test_the_whole_suite_travels_to_the_chosen_moment():
    chosen = dt.datetime.fromisoformat(os.environ[TEST_NOW_VARIABLE].replace("Z", "+00:00"))
    assert chosen <= timezone.now() < chosen + dt.timedelta(hours=1), "the clock ticks on from there"
