"""GET /api/v1/metrics/ and POST /api/v1/metrics/recompute/."""

import datetime as dt
from unittest import mock

import pytest

from learninghub.celery import app
from learninghub.insights.metrics import scheduling
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.kernel.events import ChangeSet
from learninghub.kernel.periods import Month
from tests.factories import UserFactory, issue_token
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory
from tests.metrics.conftest import at

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics/"
RECOMPUTE_URL = "/api/v1/metrics/recompute/"


@pytest.fixture
def records(team, other_team):
    earlier = ExperimentFactory(team=team, failed=True, started_at=at(2025, 10, 2))
    ExperimentFactory(team=team, failed=True, started_at=at(2025, 11, 3), repeat_of=earlier, is_novel=True)
    ExperimentFactory(team=team, started_at=at(2025, 11, 4))
    PostMortemFactory(team=team, occurred_at=at(2025, 11, 5), restricted=True)
    PostMortemFactory(team=other_team, occurred_at=at(2025, 11, 6))


def test_one_object_per_month_with_every_metric_and_its_counts(member_api, records):
    response = member_api.get(URL, {"team": "recsys", "from": "2025-10", "to": "2025-12"})
    assert response.status_code == 200
    body = response.json()
    assert body["team"] == "recsys"
    assert [row["month"] for row in body["results"]] == ["2025-10", "2025-11", "2025-12"]
    november = body["results"][1]
    assert november["experiments_started"] == 2 and november["experiments_novel"] == 1
    assert november["experiment_velocity"] == pytest.approx(2 / (30 / 7))
    assert (november["failures"], november["repeat_failures"], november["repeat_failure_rate"]) == (2, 1, 0.5)
    assert november["failures_by_mode"] == {"data_quality": 1, "overfitting": 1}
    assert november["failures_by_kind"] == {"productive": 1}
    for key in ("innovation_index", "lesson_application_rate", "failure_recovery_time", "failure_recovery_time_median",
                "failure_recovery_time_p90", "time_to_detect", "action_item_completion_rate",
                "learning_efficiency_score", "lessons_in_window", "action_items_overdue", "computed_at"):
        assert key in november
    assert november["computed_at"] is not None
    assert body["live"] is True, "never computed before: computed in-process for this request"
    assert member_api.get(URL, {"team": "recsys", "from": "2025-10", "to": "2025-12"}).json()["live"] is False


def test_without_a_team_the_organisation(member_api, records):
    body = member_api.get(URL, {"from": "2025-11", "to": "2025-11"}).json()
    assert body["team"] is None
    assert body["results"][0]["team"] is None
    assert body["results"][0]["failures"] == 3  # both teams' records, restricted post-mortem included


def test_defaults_to_the_last_12_months(member_api, team):
    months = [row["month"] for row in member_api.get(URL, {"team": "recsys"}).json()["results"]]
    assert len(months) == 12
    assert months[-1] == Month.current().key
    assert months[0] == Month.current().shift(-11).key


@pytest.mark.parametrize("params, field", [
    ({"from": "2025-13"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "2025-11", "to": "2025-10"}, "to"),
    ({"from": "2000-01", "to": "2025-10"}, "from"),
    ({"from": "2000-01"}, "from"),  # `to` defaults to the current month: still too many months
    ({"team": "no-such-team"}, "team"),
    ({"from": "1800-01"}, "from"),
    ({"from": "2025-1\x00"}, "from"),
])
def test_bad_parameters_are_a_400_with_the_field(member_api, team, params, field):
    response = member_api.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_anonymous_requests_are_refused(api_client, team):
    assert api_client.get(URL).status_code in {401, 403}
    assert api_client.post(RECOMPUTE_URL, {"team": "recsys"}).status_code in {401, 403}


def test_a_lead_recomputes_the_team(lead_api, records):
    response = lead_api.post(RECOMPUTE_URL, {"team": "recsys", "from": "2025-10", "to": "2025-11"})
    assert response.status_code == 200  # tasks in-process: done in the request
    assert response.json() == {"team": "recsys", "months": ["2025-10", "2025-11"], "status": "computed"}
    assert set(MetricSnapshot.objects.values_list("team__slug", "month")) == {
        ("recsys", dt.date(2025, 10, 1)), ("recsys", dt.date(2025, 11, 1))}


def test_without_months_the_lead_backfills_every_month_with_records(lead_api, records):
    response = lead_api.post(RECOMPUTE_URL, {"team": "recsys"})
    assert response.json()["months"][0] == "2025-10"
    assert response.json()["months"][-1] == Month.current().key


def test_recompute_is_scheduled_when_a_broker_takes_it(lead_api, records):
    app.conf.task_always_eager = False
    with mock.patch("learninghub.insights.metrics.api.views.enqueue", return_value=True) as enqueue:
        response = lead_api.post(RECOMPUTE_URL, {"team": "recsys", "from": "2025-11", "to": "2025-11"})
    assert response.status_code == 202
    assert response.json()["status"] == "scheduled"
    task, *args = enqueue.call_args.args
    assert task.name == "metrics.tasks.recompute_team" and args[1] == ["2025-11"]
    assert not MetricSnapshot.objects.exists()


def test_members_and_outsiders_may_not_recompute(member_api, outsider_api, records):
    assert member_api.post(RECOMPUTE_URL, {"team": "recsys"}).status_code == 403
    assert outsider_api.post(RECOMPUTE_URL, {"team": "recsys"}).status_code == 403
    assert member_api.post(RECOMPUTE_URL, {}).status_code == 403, "the organisation is for staff"
    assert not MetricSnapshot.objects.exists()


def test_staff_recompute_everything(api_client, records):
    _token, key = issue_token(UserFactory(username="root", is_staff=True))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api_client.post(RECOMPUTE_URL, {"from": "2025-11", "to": "2025-11"})
    assert response.status_code == 200
    assert MetricSnapshot.objects.filter(month=dt.date(2025, 11, 1)).count() == 3


def test_recompute_rejects_bad_parameters(lead_api, team):
    assert lead_api.post(RECOMPUTE_URL, {"team": "recsys", "from": "soon"}).status_code == 400
    assert lead_api.post(RECOMPUTE_URL, {"team": "ghost"}).status_code == 400


def test_the_api_answers_with_the_broker_unreachable(lead_api, team, records, broker_down,
                                                     django_capture_on_commit_callbacks):
    assert not scheduling.tasks_in_process()
    params = {"team": "recsys", "from": "2025-11", "to": "2025-11"}
    response = lead_api.get(URL, params)
    assert response.status_code == 200 and response.json()["live"] is True
    assert response.json()["results"][0]["experiments_started"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        ExperimentFactory(team=team, started_at=at(2025, 11, 9))
        ChangeSet().moments(team.pk, at(2025, 11, 9)).emit()
    response = lead_api.get(URL, params)
    assert response.status_code == 200
    assert response.json()["live"] is True, "stale and nothing scheduled: computed in-process"
    assert response.json()["results"][0]["experiments_started"] == 3
    response = lead_api.post(RECOMPUTE_URL, params)
    assert response.status_code == 200
    assert response.json()["status"] == "computed", "no broker: computed in the request instead"
