"""``Idempotency-Key`` on API creates: the same key and body answer the first response again
(nothing created twice), a different body is a 422, a failed first request releases the key,
and answers are forgotten after 24 hours."""

from __future__ import annotations

import datetime as dt

import pytest

from awards.models import CycleState, Nomination, Vote
from experiments.models import Experiment
from learninghub.kernel.models import IdempotencyKey
from learninghub.kernel.tasks import purge_idempotency_keys
from postmortems.models import PostMortem
from tests.factories import MembershipFactory, UserFactory
from tests.factories.awards import AwardCategoryFactory, AwardCycleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem_body(team):
    return {"team": team.slug, "title": "Outage", "occurred_at": "2026-11-01T08:00:00Z", "detect_repeats": False}


@pytest.fixture
def experiment_body(team):
    return {"team": team.slug, "title": "Try", "hypothesis": "It works", "started_at": "2026-11-01T08:00:00Z",
            "detect_repeats": False}


def post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.parametrize(("url", "model", "body"), [
    ("/api/v1/postmortems/", PostMortem, "postmortem_body"),
    ("/api/v1/experiments/", Experiment, "experiment_body"),
])
def test_the_same_key_and_body_replays_the_first_answer(member_api, request, url, model, body):
    body = request.getfixturevalue(body)
    first = post(member_api, url, body, "key-1")
    again = post(member_api, url, body, "key-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"]
    assert model.objects.count() == 1
    assert post(member_api, url, body, "key-2").status_code == 201
    assert model.objects.count() == 2


def test_a_different_body_with_the_same_key_is_422(member_api, postmortem_body):
    assert post(member_api, "/api/v1/postmortems/", postmortem_body, "k").status_code == 201
    response = post(member_api, "/api/v1/postmortems/", dict(postmortem_body, title="Other"), "k")
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert PostMortem.objects.count() == 1


def test_keys_belong_to_their_user(member_api, lead_api, postmortem_body):
    assert post(member_api, "/api/v1/postmortems/", postmortem_body, "k").status_code == 201
    assert post(lead_api, "/api/v1/postmortems/", postmortem_body, "k").status_code == 201
    assert PostMortem.objects.count() == 2


def test_a_failed_first_request_releases_the_key(member_api, postmortem_body):
    bad = post(member_api, "/api/v1/postmortems/", dict(postmortem_body, severity="sev9"), "k")
    assert bad.status_code == 400
    assert post(member_api, "/api/v1/postmortems/", postmortem_body, "k").status_code == 201
    assert IdempotencyKey.objects.get().status_code == 201


def test_a_request_still_in_progress_is_409(member_api, member, postmortem_body):
    assert post(member_api, "/api/v1/postmortems/", postmortem_body, "k").status_code == 201
    IdempotencyKey.objects.filter(user=member, key="k").update(status_code=None)  # as if still running
    assert post(member_api, "/api/v1/postmortems/", postmortem_body, "k").status_code == 409


def test_nominations_and_votes(member_api, member):
    cycle = AwardCycleFactory(month=dt.date(2026, 11, 1), state=CycleState.NOMINATING)
    AwardCategoryFactory(slug="fast-fail", name="Fast Fail Award", position=10)
    MembershipFactory(user=UserFactory(username="nina"), team=member.memberships.get().team)  # nominees are members
    body = {"cycle": "2026-11", "category": "fast-fail", "nominee": "nina", "reason": "Stopped early"}
    for _ in range(2):
        assert post(member_api, "/api/v1/awards/nominations/", body, "n").status_code == 201
    assert Nomination.objects.count() == 1
    cycle.state = CycleState.VOTING
    cycle.save(update_fields=["state"])
    vote = {"cycle": "2026-11", "category": "fast-fail", "nominee": "nina"}
    answers = [post(member_api, "/api/v1/awards/votes/", vote, "v").status_code for _ in range(2)]
    assert answers[0] == answers[1] and answers[0] in (200, 201)
    assert Vote.objects.count() == 1


def test_answers_expire_after_24_hours(member_api, postmortem_body, clock):
    assert post(member_api, "/api/v1/postmortems/", postmortem_body, "k").status_code == 201
    clock.shift(dt.timedelta(hours=23))
    assert post(member_api, "/api/v1/postmortems/", postmortem_body, "k")["Idempotent-Replayed"] == "true"
    clock.shift(dt.timedelta(hours=2))
    assert purge_idempotency_keys() == 1
    assert post(member_api, "/api/v1/postmortems/", postmortem_body, "k").status_code == 201
    assert PostMortem.objects.count() == 2


def test_without_a_key_nothing_is_stored(member_api, postmortem_body):
    assert member_api.post("/api/v1/postmortems/", postmortem_body, format="json").status_code == 201
    assert not IdempotencyKey.objects.exists()
