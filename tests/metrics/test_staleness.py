"""Staleness (DESIGN.md): a backdated write marks every month whose figures it can change, so no
snapshot served is ever wrong while claiming to be fresh — before the debounced run (stale rows
are computed live) and after it (every row fresh and right)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from experiments import services
from experiments.models import Experiment
from learninghub.insights.metrics import engine
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.insights.metrics.tasks import recompute_recent_months, recompute_stale
from learninghub.kernel.events import ChangeSet
from learninghub.kernel.periods import Month
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory
from tests.metrics.conftest import at

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics/"
NOW = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
FIRST, LAST = Month(2025, 1), Month(2026, 6)  # the current month, by the fixed clock
WINDOW = Month.range(FIRST, LAST)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(team, other_team):
    """A year and a half of records, every snapshot computed and fresh: the state in which a
    write that marks too few months leaves later months wrong but served as fresh."""
    source = ExperimentFactory(team=team, started_at=at(2024, 12, 5), title="Where lessons come from")
    place = ExperimentFactory(team=team, started_at=at(2024, 12, 20), title="Where lessons are applied")
    early = LessonFactory(team=team, experiment=source, documented_at=at(2025, 2, 10))
    LessonApplicationFactory(lesson=early, experiment=place, applied_at=at(2025, 6, 1))
    LessonFactory(team=team, experiment=source, documented_at=at(2025, 3, 5))
    ExperimentFactory(team=team, started_at=at(2025, 5, 3), ended_at=at(2025, 5, 9), failed=True)
    ExperimentFactory(team=other_team, started_at=at(2025, 7, 3), is_novel=True)
    engine.recompute(WINDOW)
    assert not MetricSnapshot.objects.stale().exists()
    return {"source": source, "place": place, "early": early}


def served(api, team=None) -> dict:
    params = {"from": FIRST.key, "to": LAST.key, **({"team": team} if team else {})}
    response = api.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def figures(body: dict) -> dict[str, dict]:
    return {row["month"]: {k: v for k, v in row.items() if k not in {"computed_at", "computed_by"}}
            for row in body["results"]}


def fresh_figures(api, team=None) -> dict[str, dict]:
    """What a full recompute from scratch serves (computed into rows that are then thrown away)."""
    saved = list(MetricSnapshot.objects.all())
    MetricSnapshot.objects.all().delete()
    try:
        engine.recompute(WINDOW)
        result = figures(served(api, team))
    finally:
        MetricSnapshot.objects.all().delete()
        MetricSnapshot.objects.bulk_create(saved)
    return result


def assert_never_wrong_while_fresh(api, committed) -> None:
    """Right before the debounced run and after it, for the team and the organisation."""
    assert MetricSnapshot.objects.stale().exists(), "the write left its months for the debounced run"
    for team in ("recsys", None):
        before = served(api, team)
        assert before["live"] is True, "stale months are computed for the request, and say so"
        assert figures(before) == fresh_figures(api, team)
    recompute_stale.delay()  # the debounced run
    assert not MetricSnapshot.objects.stale().filter(month__lte=LAST.first_day).exists()
    for team in ("recsys", None):
        after = served(api, team)
        assert after["live"] is False, "every month was recomputed by the debounced run"
        assert figures(after) == fresh_figures(api, team)
    assert committed, "the write emitted its change on commit"


def write(django_capture_on_commit_callbacks, team, action):
    """Run ``action`` as the second write of a burst: the first takes the debounced run (in-process
    it runs at once), so the backdated write only marks its months stale."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ChangeSet().moments(team.pk, NOW).emit()
        action()
    return callbacks[1:]


def test_a_lesson_created_with_a_past_date_marks_its_whole_window(member_api, member, team, world,
                                                                  django_capture_on_commit_callbacks):
    committed = write(django_capture_on_commit_callbacks, team, lambda: services.lesson_create(
        text="Backdated", user=member, experiment=world["source"], documented_at=at(2025, 4, 10)))
    marked = set(MetricSnapshot.objects.filter(team=team).stale().values_list("month", flat=True))
    assert marked == {month.first_day for month in Month.range(Month(2025, 4), Month(2026, 4))}
    assert_never_wrong_while_fresh(member_api, committed)


def test_a_lesson_re_dated_marks_its_old_and_new_windows(member_api, member, team, world,
                                                         django_capture_on_commit_callbacks):
    committed = write(django_capture_on_commit_callbacks, team, lambda: services.lesson_update(
        lesson=world["early"], user=member, documented_at=at(2025, 9, 20)))
    assert_never_wrong_while_fresh(member_api, committed)


def test_a_deleted_lesson_marks_its_window(member_api, lead, team, world, django_capture_on_commit_callbacks):
    committed = write(django_capture_on_commit_callbacks, team,
                      lambda: services.lesson_delete(lesson=world["early"], user=lead))
    assert_never_wrong_while_fresh(member_api, committed)


def test_an_application_with_a_past_date_marks_the_rest_of_the_lessons_window(
        member_api, member, team, world, django_capture_on_commit_callbacks):
    lesson = world["source"].lessons.get(documented_at=at(2025, 3, 5))
    committed = write(django_capture_on_commit_callbacks, team, lambda: services.lesson_apply(
        lesson=lesson, user=member, experiment=world["place"], applied_at=at(2025, 5, 10)))
    assert_never_wrong_while_fresh(member_api, committed)


def test_an_experiment_re_dated_to_another_month_marks_both(member_api, member, team, world,
                                                            django_capture_on_commit_callbacks):
    experiment = Experiment.objects.get(team=team, started_at=at(2025, 5, 3))
    committed = write(django_capture_on_commit_callbacks, team, lambda: services.experiment_update(
        experiment=experiment, user=member, data={"started_at": at(2025, 8, 3), "ended_at": at(2025, 8, 9)}))
    assert_never_wrong_while_fresh(member_api, committed)


def test_the_change_set_rules():
    changes = ChangeSet()
    changes.lesson(1, at(2025, 4, 10))
    changes.application(2, at(2025, 5, 10), at(2025, 3, 5))
    changes.moments(2, at(2024, 1, 2), None, dt.date(2024, 2, 29))
    changes.application(3, at(2027, 1, 1), at(2025, 3, 5))  # after the window: changes nothing
    assert changes.by_team() == {
        1: frozenset(Month.range(Month(2025, 4), Month(2026, 4))),
        2: frozenset([Month(2024, 1), Month(2024, 2), *Month.range(Month(2025, 5), Month(2026, 3))]),
    }


def test_marking_creates_no_rows_for_months_to_come_but_marks_those_that_exist(team):
    engine.recompute([Month(2026, 9)], team_ids=[team.pk])  # an action item due then, say
    engine.mark_stale(team.pk, Month.range(Month(2026, 5), Month(2026, 10)))
    rows = MetricSnapshot.objects.filter(team=team)
    assert sorted(rows.values_list("month", flat=True)) == [dt.date(2026, 5, 1), dt.date(2026, 6, 1),
                                                            dt.date(2026, 9, 1)]
    assert rows.get(month=dt.date(2026, 9, 1)).is_stale


def test_the_nightly_run_also_sweeps_stale_months(team, world):
    engine.mark_stale(team.pk, [Month(2025, 2)])
    recompute_recent_months.delay()
    assert not MetricSnapshot.objects.stale().exists()
