"""The lessons API: list with filters, create from an experiment or a post-mortem, applications."""

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from experiments.models import LessonApplication
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/lessons/"


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_create_from_an_experiment(member_api, member, team):
    experiment = ExperimentFactory(team=team)
    response = member_api.post(URL, {"experiment": experiment.pk, "text": " Check for leakage "}, format="json")
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["text"] == "Check for leakage" and body["team"] == "recsys" and body["experiment"] == experiment.pk
    assert body["postmortem"] is None and body["created_by"] == member.username and body["application_count"] == 0


def test_create_from_a_postmortem_with_a_documented_date(member_api, team):
    postmortem = PostMortemFactory(team=team)
    response = member_api.post(URL, {"postmortem": postmortem.pk, "text": "Alert on schema changes",
                                     "documented_at": "2026-02-01T10:00:00Z"}, format="json")
    assert response.status_code == 201, response.data
    assert response.json()["postmortem"] == postmortem.pk
    assert parse_datetime(response.json()["documented_at"]) == dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC)


@pytest.mark.parametrize("body", [
    {"text": "from nowhere"},
    {"text": "from both", "experiment": "EXP", "postmortem": "PM"},
    {"text": "", "experiment": "EXP"},
    {"text": "x", "experiment": 999999},
    {"text": "x", "experiment": "EXP", "documented_at": "last week"},
])
def test_bad_lessons_are_400(member_api, team, body):
    experiment = ExperimentFactory(team=team)
    postmortem = PostMortemFactory(team=team)
    body = {key: experiment.pk if value == "EXP" else postmortem.pk if value == "PM" else value
            for key, value in body.items()}
    assert member_api.post(URL, body, format="json").status_code == 400


def test_restricted_postmortems_are_unknown_to_other_teams(outsider_api, member_api, team):
    secret = PostMortemFactory(team=team, restricted=True)
    lesson = LessonFactory(experiment=None, postmortem=secret, team=team)
    assert lesson.pk not in ids(outsider_api.get(URL))
    assert outsider_api.get(f"{URL}{lesson.pk}/").status_code == 404
    assert lesson.pk in ids(member_api.get(URL))
    response = outsider_api.post(URL, {"postmortem": secret.pk, "text": "x"}, format="json")
    assert response.status_code == 400 and "postmortem" in response.json()


@pytest.fixture
def library(team, other_team):
    now = timezone.now()
    old = LessonFactory(experiment=ExperimentFactory(team=team), text="Size Bloom filters from the peak",
                        documented_at=now - dt.timedelta(days=100))
    recent = LessonFactory(experiment=ExperimentFactory(team=team), text="Latency is a hard constraint",
                           documented_at=now - dt.timedelta(days=10))
    theirs = LessonFactory(experiment=ExperimentFactory(team=other_team), text="Chunk every backfill",
                           documented_at=now - dt.timedelta(days=50))
    LessonApplicationFactory(lesson=old, experiment=ExperimentFactory(team=other_team),
                             applied_at=now - dt.timedelta(days=60))
    LessonApplicationFactory(lesson=theirs, experiment=ExperimentFactory(team=team),
                             applied_at=now - dt.timedelta(days=5))
    return {"old": old, "recent": recent, "theirs": theirs, "now": now}


def test_lesson_filters(member_api, library):
    lib = library
    day = lambda days: (lib["now"] - dt.timedelta(days=days)).date().isoformat()  # noqa: E731
    assert ids(member_api.get(URL, {"team": "data-platform"})) == {lib["theirs"].pk}
    assert ids(member_api.get(URL, {"search": "backfill chunk"})) == {lib["theirs"].pk}
    assert ids(member_api.get(URL, {"documented_after": day(60)})) == {lib["recent"].pk, lib["theirs"].pk}
    assert ids(member_api.get(URL, {"documented_before": day(60)})) == {lib["old"].pk}
    assert ids(member_api.get(URL, {"applied": "true"})) == {lib["old"].pk, lib["theirs"].pk}
    assert ids(member_api.get(URL, {"applied": "false"})) == {lib["recent"].pk}
    assert ids(member_api.get(URL, {"applied_before": day(30)})) == {lib["old"].pk}


@pytest.mark.parametrize("params", [{"team": "nope"}, {"documented_after": "2026-02-30"}, {"applied": "yes"},
                                    {"applied_before": "x"}])
def test_invalid_lesson_filters_are_400(member_api, params):
    assert member_api.get(URL, params).status_code == 400


def test_application_count_in_the_list(member_api, library):
    rows = {row["id"]: row for row in member_api.get(URL).json()["results"]}
    assert rows[library["old"].pk]["application_count"] == 1
    assert rows[library["recent"].pk]["application_count"] == 0


def test_applications_list_and_create(member_api, member, team, other_team):
    lesson = LessonFactory(experiment=ExperimentFactory(team=other_team),
                           documented_at=timezone.now() - dt.timedelta(days=3))
    target = ExperimentFactory(team=team, title="Where it helped")
    url = f"{URL}{lesson.pk}/applications/"
    response = member_api.post(url, {"experiment": target.pk, "note": "Sized by peak"}, format="json")
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["lesson"] == lesson.pk and body["experiment"] == target.pk and body["applied_by"] == member.username
    assert body["place_title"] == "Where it helped" and body["note"] == "Sized by peak"
    listing = member_api.get(url).json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]


def test_application_in_a_postmortem_with_a_date(member_api, team, other_team, clock):
    clock.move_to(dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC))
    lesson = LessonFactory(experiment=ExperimentFactory(team=other_team),
                           documented_at=dt.datetime(2026, 10, 19, 10, 0, tzinfo=dt.UTC))
    postmortem = PostMortemFactory(team=team)
    response = member_api.post(f"{URL}{lesson.pk}/applications/",
                               {"postmortem": postmortem.pk, "applied_at": "2026-11-01"}, format="json")
    assert response.status_code == 201, response.data
    assert LessonApplication.objects.get().postmortem == postmortem


@pytest.mark.parametrize("case", ["own_source", "duplicate", "neither", "before_documented"])
def test_bad_applications_are_400(member_api, team, case):
    source = ExperimentFactory(team=team)
    lesson = LessonFactory(experiment=source, documented_at=timezone.now() - dt.timedelta(days=2))
    target = ExperimentFactory(team=team)
    url = f"{URL}{lesson.pk}/applications/"
    body = {
        "own_source": {"experiment": source.pk},
        "duplicate": {"experiment": target.pk},
        "neither": {"note": "where?"},
        "before_documented": {"experiment": target.pk,
                              "applied_at": (timezone.now() - dt.timedelta(days=10)).isoformat()},
    }[case]
    if case == "duplicate":
        assert member_api.post(url, body, format="json").status_code == 201
    response = member_api.post(url, body, format="json")
    assert response.status_code == 400, response.data


def test_lesson_update_keeps_its_source(member_api, team):
    lesson = LessonFactory(experiment=ExperimentFactory(team=team), text="old")
    assert member_api.patch(f"{URL}{lesson.pk}/", {"text": "new"}, format="json").json()["text"] == "new"
    moved = member_api.patch(f"{URL}{lesson.pk}/", {"experiment": ExperimentFactory(team=team).pk}, format="json")
    assert moved.status_code == 400


def test_lesson_list_uses_a_bounded_number_of_queries(member_api, team, other_team, django_assert_max_num_queries):
    def fill(count):
        for _ in range(count):
            lesson = LessonFactory(experiment=ExperimentFactory(team=team))
            LessonApplicationFactory(lesson=lesson, experiment=ExperimentFactory(team=other_team))
            LessonFactory(experiment=None, postmortem=PostMortemFactory(team=other_team), team=other_team)

    fill(2)
    with django_assert_max_num_queries(8) as small:
        assert member_api.get(URL, {"page_size": 100}).status_code == 200
    fill(20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert member_api.get(URL, {"page_size": 100}).json()["count"] == 44


@pytest.mark.parametrize("lesson_id", ["abc", "1e5"])
def test_applications_of_a_malformed_lesson_id_are_404(member_api, lesson_id):
    assert member_api.get(f"/api/v1/lessons/{lesson_id}/applications/").status_code == 404
    assert member_api.post(f"/api/v1/lessons/{lesson_id}/applications/", {}, format="json").status_code == 404
