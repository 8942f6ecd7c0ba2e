"""Who may do what through the API: everyone signed in reads, the team's members write, its leads
delete; anonymous callers and revoked tokens get nothing."""

import pytest
from rest_framework.test import APIClient

from experiments.models import Experiment
from learninghub.kernel.models import ApiToken
from tests.factories import issue_token
from tests.factories.experiments import ExperimentFactory, LessonFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/experiments/"
NEW = {"team": "recsys", "title": "t", "hypothesis": "h"}


def test_another_teams_member_reads_but_cannot_write(outsider_api, team):
    experiment = ExperimentFactory(team=team, title="untouched")
    assert outsider_api.get(URL).status_code == 200
    assert outsider_api.get(f"{URL}{experiment.pk}/").status_code == 200
    assert outsider_api.get(f"{URL}{experiment.pk}/markdown/").status_code == 200
    assert outsider_api.post(URL, NEW, format="json").status_code == 403
    assert outsider_api.patch(f"{URL}{experiment.pk}/", {"title": "x"}, format="json").status_code == 403
    assert outsider_api.put(f"{URL}{experiment.pk}/", {**NEW, "title": "x"}, format="json").status_code == 403
    assert outsider_api.delete(f"{URL}{experiment.pk}/").status_code == 403
    experiment.refresh_from_db()
    assert experiment.title == "untouched" and Experiment.objects.count() == 1


def test_another_teams_member_cannot_upsert_over_an_existing_run(outsider_api, team):
    experiment = ExperimentFactory(team=team, external_id="run-1", title="ours")
    response = outsider_api.post(URL, {**NEW, "external_id": "run-1", "title": "theirs"}, format="json")
    assert response.status_code == 403
    experiment.refresh_from_db()
    assert experiment.title == "ours"


def test_a_member_writes_but_does_not_delete(member_api, team):
    experiment = ExperimentFactory(team=team)
    assert member_api.post(URL, NEW, format="json").status_code == 201
    assert member_api.patch(f"{URL}{experiment.pk}/", {"title": "x"}, format="json").status_code == 200
    assert member_api.delete(f"{URL}{experiment.pk}/").status_code == 403


def test_staff_may_delete_any_teams_experiment(team):
    from tests.factories import UserFactory

    staff = UserFactory(username="root", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(staff)[1]}")
    experiment = ExperimentFactory(team=team)
    assert client.delete(f"{URL}{experiment.pk}/").status_code == 204


@pytest.mark.parametrize(("method", "path"), [
    ("get", URL), ("post", URL), ("get", "/api/v1/lessons/"), ("post", "/api/v1/lessons/"),
])
def test_anonymous_callers_are_refused(api_client, team, method, path):
    response = getattr(api_client, method)(path, NEW, format="json") if method == "post" else api_client.get(path)
    assert response.status_code == 401
    assert not Experiment.objects.exists()


def test_anonymous_cannot_read_one_experiment_or_its_markdown(api_client, team):
    experiment = ExperimentFactory(team=team)
    assert api_client.get(f"{URL}{experiment.pk}/").status_code == 401
    assert api_client.get(f"{URL}{experiment.pk}/markdown/").status_code == 401


def test_a_revoked_token_is_refused(member, team):
    token, key = issue_token(member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(URL).status_code == 200
    token.revoke()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert client.get(URL).status_code == 401
    assert client.post(URL, NEW, format="json").status_code == 401
    assert not Experiment.objects.exists()


def test_a_made_up_token_is_refused(team):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert client.get(URL).status_code == 401


def test_session_auth_works_for_the_browser(member_client, team):
    ExperimentFactory(team=team)
    assert member_client.get(URL).status_code == 200


def test_lesson_writes_need_membership_of_the_source_team(outsider_api, member_api, lead_api, team):
    experiment = ExperimentFactory(team=team)
    assert outsider_api.post("/api/v1/lessons/", {"experiment": experiment.pk, "text": "x"},
                             format="json").status_code == 403
    created = member_api.post("/api/v1/lessons/", {"experiment": experiment.pk, "text": "x"}, format="json")
    assert created.status_code == 201
    lesson_url = f"/api/v1/lessons/{created.json()['id']}/"
    assert outsider_api.patch(lesson_url, {"text": "y"}, format="json").status_code == 403
    assert member_api.delete(lesson_url).status_code == 403
    assert lead_api.delete(lesson_url).status_code == 204


def test_applying_a_lesson_needs_membership_where_it_is_applied(outsider_api, member_api, team, other_team):
    lesson = LessonFactory(experiment=ExperimentFactory(team=other_team))
    ours = ExperimentFactory(team=team)
    url = f"/api/v1/lessons/{lesson.pk}/applications/"
    assert outsider_api.post(url, {"experiment": ours.pk}, format="json").status_code == 403
    assert member_api.post(url, {"experiment": ours.pk}, format="json").status_code == 201
