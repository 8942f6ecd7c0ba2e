"""Pages never recompute on the request path when a worker can (stale-while-revalidate), compute
only the missing team-months otherwise, and the status line names the computation behind the
figures shown (issue 15 §2, issue 10)."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest

from learninghub.celery import app
from learninghub.insights.metrics import engine, scheduling
from learninghub.insights.metrics.models import Computation, MetricSnapshot
from learninghub.insights.metrics.tasks import recompute_recent_months, recompute_stale
from learninghub.kernel.periods import Month
from tests.factories import TeamFactory
from tests.factories.experiments import ExperimentFactory
from tests.metrics.conftest import at

pytestmark = pytest.mark.django_db

OCTOBER = Month(2026, 10)  # the last complete month by the clock fixture
PAGE = "/dashboards/recsys/"


@pytest.fixture
def computed(clock, team, other_team):
    ExperimentFactory(team=team, failed=True, started_at=at(2026, 10, 3))
    ExperimentFactory(team=other_team, started_at=at(2026, 10, 4))
    engine.recompute(Month.range(OCTOBER.shift(-12), OCTOBER.next()))


@pytest.fixture
def worker():
    """A broker that takes every task (and a worker that will run them later)."""
    app.conf.task_always_eager = False
    with mock.patch.object(scheduling, "enqueue_by_name", return_value=True) as enqueue:
        yield enqueue


def status_of(response) -> str:
    return re.search(r'data-status="(\w+)"', response.content.decode()).group(1)


def status_text(response) -> str:
    found = re.search(r'<p class="dashboard-status[^>]*>(.*?)</p>', response.content.decode(), re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", found).split())


def test_a_stale_snapshot_is_served_labelled_and_its_recompute_enqueued(member_client, team, computed, worker):
    ExperimentFactory(team=team, started_at=at(2026, 10, 20))
    engine.mark_stale(team.pk, [OCTOBER])
    with mock.patch.object(engine, "recompute_keys", wraps=engine.recompute_keys) as recompute:
        for _ in range(3):
            response = member_client.get(PAGE)
            assert response.status_code == 200 and status_of(response) == "pending"
        assert recompute.call_count == 0, "nothing computed on the request path"
    assert worker.call_args_list == [mock.call(scheduling.RECOMPUTE_TASK, countdown=scheduling.debounce_seconds())]
    assert MetricSnapshot.objects.get(team=team, month=OCTOBER.first_day).experiments_started == 1, "as of before"
    recompute_stale()  # what the worker runs
    response = member_client.get(PAGE)
    assert status_of(response) == "scheduled"
    assert response.context["cards"][0].value != "" and not response.context["status"]["live"]
    assert MetricSnapshot.objects.get(team=team, month=OCTOBER.first_day).experiments_started == 2


def test_a_missing_snapshot_is_computed_for_that_team_only(member_client, team, other_team, worker):
    ExperimentFactory(team=team, started_at=at(2026, 10, 3))
    ExperimentFactory(team=other_team, started_at=at(2026, 10, 4))
    response = member_client.get(PAGE)
    assert response.status_code == 200 and status_of(response) == "live"
    assert set(MetricSnapshot.objects.values_list("team_id", flat=True)) == {team.pk}, "not the organisation"
    assert set(MetricSnapshot.objects.values_list("computed_by", flat=True)) == {Computation.LIVE}
    assert worker.call_count == 0


def test_the_home_page_computes_missing_organisation_months_from_the_teams(member_client, team, other_team, worker):
    ExperimentFactory(team=team, started_at=at(2026, 10, 3))
    ExperimentFactory(team=other_team, started_at=at(2026, 10, 4))
    response = member_client.get("/")
    assert response.status_code == 200 and status_of(response) == "live"
    organisation = MetricSnapshot.objects.get(team__isnull=True, month=OCTOBER.first_day)
    assert organisation.experiments_started == 2 and organisation.computed_by == Computation.LIVE


def test_when_no_worker_takes_the_run_the_page_computes_what_it_shows(member_client, team, computed, worker, clock):
    engine.mark_stale(team.pk, [OCTOBER])
    assert status_of(member_client.get(PAGE)) == "pending"
    clock.shift(dt.timedelta(seconds=scheduling.debounce_seconds() + scheduling.SCHEDULE_GRACE_SECONDS + 1))
    response = member_client.get(PAGE)
    assert status_of(response) == "live", "the run asked for never started"
    assert not MetricSnapshot.objects.get(team=team, month=OCTOBER.first_day).is_stale


def test_with_the_broker_down_a_stale_page_is_computed_live(member_client, team, computed, broker_down):
    engine.mark_stale(team.pk, [OCTOBER])
    response = member_client.get(PAGE)
    assert status_of(response) == "live"
    assert MetricSnapshot.objects.get(team=team, month=OCTOBER.first_day).computed_by == Computation.LIVE


def test_the_status_line_names_the_computation_behind_the_figures(member_client, team, computed, clock):
    clock.shift(dt.timedelta(hours=1))
    recompute_recent_months.delay()
    text = status_text(member_client.get(PAGE))
    assert "by the scheduled nightly recomputation" in text and "after an edit" not in text

    clock.shift(dt.timedelta(hours=3))
    ExperimentFactory(team=team, started_at=at(2026, 10, 21))
    engine.mark_stale(team.pk, [OCTOBER])
    recompute_stale.delay()
    text = status_text(member_client.get(PAGE))
    assert ("Figures computed 0 minutes ago by the recomputation after an edit, 3 hours ago by the scheduled "
            "nightly recomputation and 4 hours ago by a recomputation run by hand") in text, text

    TeamFactory(slug="newcomer")
    text = status_text(member_client.get("/dashboards/newcomer/"))
    assert text.startswith("live") and "by a live computation for a page" in text
