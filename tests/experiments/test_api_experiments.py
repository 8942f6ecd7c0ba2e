"""The experiments API: create, idempotent upsert, versions, validation, filters, query counts."""

import datetime as dt

import pytest
from django.utils import timezone

from experiments.models import Experiment, Lesson, Outcome
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/experiments/"


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def payload(**overrides) -> dict:
    data = {"team": "recsys", "title": "Two-tower retrieval", "hypothesis": "ANN keeps latency under 100 ms",
            "approach": "HNSW over item vectors"}
    data.update(overrides)
    return data


def test_create_returns_the_record_with_lessons_as_objects(member_api, member):
    response = member_api.post(URL, payload(
        metrics={"ctr": 0.68, "latency_ms": 50}, outcome="success", next_steps=["Add session features"],
        lessons=["Latency is a constraint", {"text": "Correct in-batch negatives", "documented_at": "2026-01-05"}],
    ), format="json")
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["team"] == "recsys" and body["version"] == 1 and body["created_by"] == member.username
    assert body["metrics"] == {"ctr": 0.68, "latency_ms": 50}
    assert [lesson["text"] for lesson in body["lessons"]] == ["Latency is a constraint", "Correct in-batch negatives"]
    assert set(body["lessons"][0]) == {"id", "text", "documented_at"}
    assert body["lessons"][1]["documented_at"].startswith("2026-01-05T00:00:00")
    assert body["ended_at"] is not None and body["duration_seconds"] >= 0
    assert body["url"] == f"/experiments/{body['id']}/"


def test_upsert_by_team_and_external_id(member_api):
    first = member_api.post(URL, payload(external_id="run-42"), format="json")
    again = member_api.post(URL, payload(external_id="run-42", metrics={"ctr": 0.7}), format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert again.json()["metrics"] == {"ctr": 0.7} and again.json()["version"] == 2


def test_a_crashing_script_retried_five_times_leaves_one_record(member_api):
    statuses, ids = [], set()
    for attempt in range(5):
        response = member_api.post(URL, payload(
            external_id="nightly-2026-11-23", outcome="failure", failure_kind="system",
            error_type="RuntimeError", error_message=f"attempt {attempt}", error_trace="Traceback…"), format="json")
        statuses.append(response.status_code)
        ids.add(response.json()["id"])
    assert statuses == [201, 200, 200, 200, 200]
    assert len(ids) == 1
    assert Experiment.objects.filter(external_id="nightly-2026-11-23").count() == 1
    assert Experiment.objects.get(pk=ids.pop()).error_message == "attempt 4"


def test_an_identical_retry_answers_200_without_a_new_version_or_recomputation(member_api, team, monkeypatch):
    from learninghub.kernel import events

    full = payload(external_id="run-7", outcome="failure", failure_kind="system", metrics={"loss": 0.31},
                   next_steps=["Retry with warm-up"], started_at="2026-11-02T09:00:00Z",
                   ended_at="2026-11-02T10:30:00Z", error_type="RuntimeError", error_trace="Traceback…",
                   lessons=["Warm-up matters", {"text": "Check the LR", "documented_at": "2026-11-03"}])
    first = member_api.post(URL, full, format="json")
    assert first.status_code == 201, first.data
    stored = Experiment.objects.get(pk=first.json()["id"])
    emitted = []
    monkeypatch.setattr(events.ChangeSet, "emit", lambda self, *args, **kwargs: emitted.append(self))
    again = member_api.post(URL, full, format="json")
    assert again.status_code == 200, again.data
    assert again.json()["id"] == stored.pk and again.json()["version"] == 1
    assert Experiment.objects.get(pk=stored.pk).updated_at == stored.updated_at
    assert emitted == []
    changed = member_api.post(URL, {**full, "metrics": {"loss": 0.3}}, format="json")
    assert changed.status_code == 200 and changed.json()["version"] == 2


def test_upsert_is_a_partial_update_keeping_other_fields(member_api):
    member_api.post(URL, payload(external_id="run-1", lessons=["keep this"]), format="json")
    response = member_api.post(URL, {"team": "recsys", "external_id": "run-1", "metrics": {"loss": 0.2}},
                               format="json")
    assert response.status_code == 200, response.data
    body = response.json()
    assert body["title"] == "Two-tower retrieval" and [lesson["text"] for lesson in body["lessons"]] == ["keep this"]


def test_the_same_external_id_in_another_team_is_another_record(member_api, bob_in_both_teams):
    client, _other = bob_in_both_teams
    one = client.post(URL, payload(external_id="run-1"), format="json")
    two = client.post(URL, payload(team="data-platform", external_id="run-1"), format="json")
    assert one.status_code == two.status_code == 201 and one.json()["id"] != two.json()["id"]


@pytest.fixture
def bob_in_both_teams(team, other_team, api_client):
    from tests.factories import MembershipFactory, UserFactory, issue_token

    bob = UserFactory(username="bob-both")
    MembershipFactory(user=bob, team=team)
    MembershipFactory(user=bob, team=other_team)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(bob)[1]}")
    return api_client, other_team


def test_update_with_the_current_version_bumps_it(member_api, team):
    experiment = ExperimentFactory(team=team)
    response = member_api.patch(detail(experiment.pk), {"title": "renamed", "version": 1}, format="json")
    assert response.status_code == 200 and response.json()["version"] == 2


def test_stale_version_answers_409_and_changes_nothing(member_api, team):
    experiment = ExperimentFactory(team=team, title="original")
    assert member_api.patch(detail(experiment.pk), {"title": "first", "version": 1}, format="json").status_code == 200
    response = member_api.patch(detail(experiment.pk), {"title": "second", "version": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    stored = Experiment.objects.get(pk=experiment.pk)
    assert (stored.title, stored.version) == ("first", 2)


def test_stale_version_on_upsert_is_409_too(member_api):
    member_api.post(URL, payload(external_id="run-9"), format="json")
    member_api.post(URL, payload(external_id="run-9", title="v2"), format="json")
    response = member_api.post(URL, payload(external_id="run-9", title="v3", version=1), format="json")
    assert response.status_code == 409
    assert Experiment.objects.get(external_id="run-9").title == "v2"


def test_if_match_with_a_stale_version_is_412(member_api, team):
    experiment = ExperimentFactory(team=team, version=3)
    response = member_api.patch(detail(experiment.pk), {"title": "x"}, format="json", HTTP_IF_MATCH='"2"')
    assert response.status_code == 412
    assert Experiment.objects.get(pk=experiment.pk).version == 3


def test_put_replaces_and_keeps_the_team(member_api, team):
    experiment = ExperimentFactory(team=team)
    response = member_api.put(detail(experiment.pk), payload(title="Full update", outcome="inconclusive"),
                              format="json")
    assert response.status_code == 200, response.data
    assert response.json()["title"] == "Full update" and response.json()["outcome"] == "inconclusive"


def test_an_experiment_cannot_move_team(member_api, team, other_team):
    experiment = ExperimentFactory(team=team)
    response = member_api.patch(detail(experiment.pk), {"team": other_team.slug}, format="json")
    assert response.status_code == 400 and "team" in response.json()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"team": "no-such-team"}, "team"),
    ({"started_at": "2026-05-10T00:00:00Z", "ended_at": "2026-05-01T00:00:00Z", "outcome": "failure"}, "ended_at"),
    ({"metrics": {"ctr": "high"}}, "metrics"),
    ({"metrics": {"ctr": True}}, "metrics"),
    ({"metrics": [1, 2]}, "metrics"),
    ({"outcome": "success", "failure_mode": "overfitting"}, "failure_mode"),
    ({"outcome": "success", "error_type": "ValueError"}, "error_type"),
    ({"outcome": "partial", "failure_kind": "system"}, "failure_kind"),
    ({"outcome": "maybe"}, "outcome"),
    ({"builds_on": 999999}, "builds_on"),
    ({"lessons": "not a list"}, "lessons"),
    ({"lessons": [""]}, "lessons"),
    ({"next_steps": "not a list"}, "next_steps"),
    ({"title": ""}, "title"),
    ({"started_at": "yesterday"}, "started_at"),
])
def test_bad_input_is_a_400_on_the_field(member_api, team, overrides, field):
    response = member_api.post(URL, payload(**overrides), format="json")
    assert response.status_code == 400, response.data
    assert field in response.json(), response.json()
    assert not Experiment.objects.exists()


def test_builds_on_itself_or_a_cycle_is_a_400(member_api, lineage):
    v1, _v2, _v3, v4 = lineage
    itself = member_api.patch(detail(v1.pk), {"builds_on": v1.pk}, format="json")
    cycle = member_api.patch(detail(v1.pk), {"builds_on": v4.pk}, format="json")
    assert itself.status_code == cycle.status_code == 400
    assert "itself" in itself.json()["builds_on"][0] and "cycle" in cycle.json()["builds_on"][0]
    v1.refresh_from_db()
    assert v1.builds_on_id is None and v1.version == 1


def test_applied_lessons_record_applications(member_api, other_team):
    lesson = LessonFactory(experiment=ExperimentFactory(team=other_team, started_at=timezone.now() - dt.timedelta(9)),
                           documented_at=timezone.now() - dt.timedelta(days=8))
    response = member_api.post(URL, payload(applied_lessons=[lesson.pk]), format="json")
    assert response.status_code == 201, response.data
    assert response.json()["applied_lessons"] == [lesson.pk]
    assert lesson.applications.get().experiment_id == response.json()["id"]
    unknown = member_api.post(URL, payload(applied_lessons=[987654]), format="json")
    assert unknown.status_code == 400 and "applied_lessons" in unknown.json()


def test_retrieve_returns_version_and_everything(member_api, outsider_api, team):
    experiment = ExperimentFactory(team=team, failed=True, failure_kind="system", error_type="KeyError",
                                   error_trace="Traceback…", next_steps=["retry"])
    LessonFactory(experiment=experiment, text="lesson one")
    body = outsider_api.get(detail(experiment.pk)).json()
    assert body["version"] == 1 and body["error_type"] == "KeyError" and body["next_steps"] == ["retry"]
    assert body["lessons"][0]["text"] == "lesson one" and body["lesson_count"] == 1


# --- Lists: filters, search, sort, pagination, bounded queries --------------------------------------

@pytest.fixture
def catalogue(team, other_team):
    now = timezone.now()
    earlier = ExperimentFactory(team=team, title="Old failure", failed=True, failure_mode="data_quality",
                                started_at=now - dt.timedelta(days=90))
    return {
        "novel": ExperimentFactory(team=team, title="Novel success", is_novel=True, succeeded=True,
                                   started_at=now - dt.timedelta(days=40)),
        "crash": ExperimentFactory(team=team, title="Crashed run", failed=True, failure_kind="system",
                                   failure_mode="infrastructure", started_at=now - dt.timedelta(days=20)),
        "repeat": ExperimentFactory(team=team, title="Repeat failure", failed=True, repeat_of=earlier,
                                    failure_mode="data_quality", started_at=now - dt.timedelta(days=10)),
        "earlier": earlier,
        "other": ExperimentFactory(team=other_team, title="Other team's", started_at=now - dt.timedelta(days=5)),
    }


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_filters(member_api, catalogue):
    c = catalogue
    day = lambda days: (timezone.now() - dt.timedelta(days=days)).date().isoformat()  # noqa: E731
    assert ids(member_api.get(URL, {"team": "data-platform"})) == {c["other"].pk}
    assert ids(member_api.get(URL, {"outcome": "success"})) == {c["novel"].pk}
    assert ids(member_api.get(URL, {"failure_mode": "data_quality"})) == {c["earlier"].pk, c["repeat"].pk}
    assert ids(member_api.get(URL, {"failure_kind": "system"})) == {c["crash"].pk}
    assert ids(member_api.get(URL, {"is_novel": "true"})) == {c["novel"].pk}
    assert c["novel"].pk not in ids(member_api.get(URL, {"is_novel": "false"}))
    assert ids(member_api.get(URL, {"repeat": "true"})) == {c["repeat"].pk}
    assert ids(member_api.get(URL, {"started_after": day(30), "started_before": day(7)})) == {c["crash"].pk,
                                                                                              c["repeat"].pk}
    ended = c["crash"].ended_at
    assert ids(member_api.get(URL, {"ended_after": ended.date().isoformat(),
                                    "ended_before": (ended + dt.timedelta(days=1)).date().isoformat()})) == {
        c["crash"].pk}
    assert ids(member_api.get(URL, {"started_after": c["crash"].started_at.isoformat(),
                                    "started_before": c["repeat"].started_at.isoformat()})) == {c["crash"].pk}


def test_search_covers_title_hypothesis_approach_and_lessons(member_api, catalogue):
    LessonFactory(experiment=catalogue["earlier"], text="Schema drift upstream broke the join")
    assert ids(member_api.get(URL, {"search": "schema drift"})) == {catalogue["earlier"].pk}
    assert ids(member_api.get(URL, {"search": "crashed"})) == {catalogue["crash"].pk}


def test_sort_by_start_date(member_api, catalogue):
    oldest_first = [row["id"] for row in member_api.get(URL, {"sort": "started_at"}).json()["results"]]
    newest_first = [row["id"] for row in member_api.get(URL).json()["results"]]
    assert oldest_first[0] == catalogue["earlier"].pk and newest_first[0] == catalogue["other"].pk
    assert oldest_first == list(reversed(newest_first))


@pytest.mark.parametrize("params", [
    {"team": "nope"}, {"outcome": "great"}, {"started_after": "2026-13-45"}, {"ended_before": "soon"},
    {"is_novel": "maybe"}, {"repeat": "perhaps"}, {"sort": "title"}, {"failure_kind": "cosmic"},
])
def test_invalid_filters_are_400_not_500(member_api, params):
    response = member_api.get(URL, params)
    assert response.status_code == 400
    assert set(params) <= set(response.json())


def test_pagination(member_api, team):
    ExperimentFactory.create_batch(30, team=team)
    first = member_api.get(URL).json()
    assert first["count"] == 30 and len(first["results"]) == 25 and first["next"]
    assert len(member_api.get(URL, {"page": 2}).json()["results"]) == 5


def _fill(team, other_team, count):
    for index in range(count):
        experiment = ExperimentFactory(team=team if index % 2 else other_team, failed=True,
                                       builds_on=None, metrics={"ctr": 0.1 * index})
        LessonFactory.create_batch(2, experiment=experiment)
        LessonApplicationFactory(lesson=LessonFactory(experiment=ExperimentFactory(team=team)),
                                 experiment=experiment)


def test_list_uses_a_bounded_number_of_queries(member_api, team, other_team, django_assert_max_num_queries):
    _fill(team, other_team, 3)
    with django_assert_max_num_queries(8) as small:
        assert member_api.get(URL, {"page_size": 100}).status_code == 200
    _fill(team, other_team, 30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = member_api.get(URL, {"page_size": 100})
    assert response.json()["count"] == 66


def test_delete_by_a_lead(lead_api, member_api, team):
    experiment = ExperimentFactory(team=team)
    LessonFactory(experiment=experiment)
    assert member_api.delete(detail(experiment.pk)).status_code == 403
    assert lead_api.delete(detail(experiment.pk)).status_code == 204
    assert not Experiment.objects.exists() and not Lesson.objects.exists()


def test_outcome_choices_are_the_designs():
    assert set(Outcome.values) == {"in_progress", "success", "failure", "partial", "inconclusive"}


@pytest.mark.parametrize("body", [[1, 2], "just text", 42])
def test_a_malformed_body_is_a_400(member_api, body):
    assert member_api.post(URL, body, format="json").status_code == 400
