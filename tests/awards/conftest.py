"""Award fixtures: the seeded categories, people, and cycles created directly in a given state."""

import datetime as dt

import pytest

from awards.models import CycleState
from awards.services import utc_today
from learninghub.kernel.periods import Month
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.factories.awards import AwardCategoryFactory, AwardCycleFactory

MARCH = dt.date(2026, 3, 1)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    """An aware UTC moment on ``day``, for injecting "now" into services."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def categories(db):
    """The three seeded categories (re-created when a transactional test flushed them)."""
    return {
        "fast-fail": AwardCategoryFactory(slug="fast-fail", name="Fast Fail Award", position=10),
        "learning-champion": AwardCategoryFactory(slug="learning-champion", name="Learning Champion", position=20),
        "pivot-master": AwardCategoryFactory(slug="pivot-master", name="Pivot Master", position=30),
    }


@pytest.fixture
def fast_fail(categories):
    return categories["fast-fail"]


@pytest.fixture
def people(db):
    """Four colleagues in one team (only team members can be nominated; anyone signed in may
    nominate and vote)."""
    crew = TeamFactory(name="Awards crew", slug="awards-crew")
    people = {name: UserFactory(username=name, first_name=name.title(), last_name="Tester")
              for name in ("ann", "ben", "cat", "dan")}
    for person in people.values():
        MembershipFactory(team=crew, user=person)
    return people


@pytest.fixture
def nominating(db):
    return AwardCycleFactory(month=MARCH, state=CycleState.NOMINATING)


@pytest.fixture
def voting(db):
    return AwardCycleFactory(month=MARCH, state=CycleState.VOTING)


@pytest.fixture
def this_month():
    return Month.of(utc_today()).first_day
