"""The awards API: categories, cycles by month (results only once closed), advancing by hand,
nominations and one's own votes. Rule violations are 400 naming the rule, wrong stage 409."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from awards import services
from awards.models import AwardCategory, CycleState, Nomination, Vote
from tests.awards.conftest import at
from tests.factories import TeamFactory, UserFactory, issue_token
from tests.factories.awards import AwardCycleFactory, NominationFactory, VoteFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

CATEGORIES = "/api/v1/awards/categories/"
CYCLES = "/api/v1/awards/cycles/"
NOMINATIONS = "/api/v1/awards/nominations/"
VOTES = "/api/v1/awards/votes/"


def api_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)[1]}")
    return client


@pytest.fixture
def ann_api(people):
    return api_for(people["ann"])


@pytest.fixture
def ballot(voting, categories, people):
    for nominee in ("ben", "cat"):
        NominationFactory(cycle=voting, category=categories["fast-fail"], nominee=people[nominee],
                          nominator=people["dan"])
    return voting


def test_the_api_needs_authentication(api_client):
    for url in (CATEGORIES, CYCLES, NOMINATIONS, VOTES):
        assert api_client.get(url).status_code in (401, 403)


def test_categories_are_seeded_with_their_descriptions(member_api):
    response = member_api.get(CATEGORIES)
    assert response.status_code == 200
    rows = {row["slug"]: row for row in response.json()["results"]}
    assert {slug: (row["name"], row["description"]) for slug, row in rows.items()} == {
        "fast-fail": ("Fast Fail Award", "Quickly identifying a doomed approach."),
        "learning-champion": ("Learning Champion", "Extracting the most insight from failures."),
        "pivot-master": ("Pivot Master", "Successfully changing direction on failure signals."),
    }
    assert member_api.get(f"{CATEGORIES}pivot-master/").json()["name"] == "Pivot Master"


def test_categories_filter_by_active(member_api):
    AwardCategory.objects.filter(slug="pivot-master").update(is_active=False)
    active = member_api.get(CATEGORIES, {"active": "true"}).json()["results"]
    retired = member_api.get(CATEGORIES, {"active": "false"}).json()["results"]
    assert [row["slug"] for row in active] == ["fast-fail", "learning-champion"]
    assert [row["slug"] for row in retired] == ["pivot-master"]
    assert member_api.get(CATEGORIES, {"active": "maybe"}).status_code == 400


def test_a_cycle_by_month_with_state_deadlines_and_history(member_api, lead):
    services.cycles_advance_on_schedule(now=at(dt.date(2026, 3, 2)))
    response = member_api.get(f"{CYCLES}2026-03/")
    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("month", "state", "nominations_close_on", "voting_close_on", "results")} == {
        "month": "2026-03", "state": "nominating", "nominations_close_on": "2026-03-21",
        "voting_close_on": "2026-03-31", "results": None}
    assert [(t["from_state"], t["to_state"], t["by"], t["automatic"]) for t in body["transitions"]] == [
        ("", "nominating", None, True)]


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2025-03"])
def test_unknown_or_impossible_months_are_404(member_api, nominating, month):
    assert member_api.get(f"{CYCLES}{month}/").status_code == 404


def test_cycle_filters_validate(member_api, nominating):
    assert member_api.get(CYCLES, {"state": "nominating"}).json()["count"] == 1
    assert member_api.get(CYCLES, {"state": "closed"}).json()["count"] == 0
    assert member_api.get(CYCLES, {"state": "bogus"}).status_code == 400
    assert member_api.get(CYCLES, {"year": "soon"}).status_code == 400


def test_secret_ballot_no_counts_until_the_cycle_closes(ballot, fast_fail, people, ann_api, lead_api):
    assert ann_api.post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "ben"}).status_code == 201
    api_for(people["cat"]).post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "ben"})
    api_for(people["ben"]).post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "cat"})

    during = ann_api.get(f"{CYCLES}2026-03/").json()
    assert during["results"] is None
    assert all(row["results"] is None for row in ann_api.get(CYCLES).json()["results"])
    nominations = ann_api.get(NOMINATIONS, {"cycle": "2026-03"}).json()["results"]
    assert nominations and all("votes" not in row for row in nominations)
    assert [row["nominee"] for row in ann_api.get(VOTES).json()["results"]] == ["ben"], "only my own vote"

    lead_api.post(f"{CYCLES}2026-03/advance/", {"state": "voting"})
    after = ann_api.get(f"{CYCLES}2026-03/").json()
    fast = next(row for row in after["results"] if row["category"] == "fast-fail")
    assert fast == {"category": "fast-fail", "name": "Fast Fail Award", "winners": ["ben"], "nominees": [
        {"nominee": "ben", "votes": 2, "winner": True}, {"nominee": "cat", "votes": 1, "winner": False}]}
    pivot = next(row for row in after["results"] if row["category"] == "pivot-master")
    assert pivot["nominees"] == [] and pivot["winners"] == []


def test_results_show_ties_sharing_the_award(ballot, people, lead_api):
    api_for(people["ann"]).post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "ben"})
    api_for(people["dan"]).post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "cat"})
    lead_api.post(f"{CYCLES}2026-03/advance/")
    results = lead_api.get(CYCLES).json()["results"][0]["results"]
    assert next(row for row in results if row["category"] == "fast-fail")["winners"] == ["ben", "cat"]


def test_cycle_list_query_count_does_not_grow_with_cycles(member_api, django_assert_max_num_queries, people,
                                                          fast_fail):
    for month in range(1, 7):
        cycle = AwardCycleFactory(month=dt.date(2025, month, 1), state=CycleState.CLOSED)
        NominationFactory(cycle=cycle, category=fast_fail, nominee=people["ben"], nominator=people["ann"])
        VoteFactory(cycle=cycle, category=fast_fail, nominee=people["ben"], voter=people["cat"])
    with django_assert_max_num_queries(10):
        response = member_api.get(CYCLES)
    assert response.json()["count"] == 6


def test_leads_advance_a_cycle_and_others_get_403(nominating, member_api, lead_api, outsider_api, lead):
    assert member_api.post(f"{CYCLES}2026-03/advance/").status_code == 403
    assert outsider_api.post(f"{CYCLES}2026-03/advance/").status_code == 403
    response = lead_api.post(f"{CYCLES}2026-03/advance/", {"state": "nominating"})
    assert response.status_code == 200
    assert response.json()["state"] == "voting"
    assert response.json()["transitions"][-1]["by"] == "leo"
    again = lead_api.post(f"{CYCLES}2026-03/advance/", {"state": "nominating"})
    assert again.status_code == 409
    assert "already voting" in again.json()["detail"]
    assert lead_api.post(f"{CYCLES}2026-03/advance/").json()["state"] == "closed"
    closed = lead_api.post(f"{CYCLES}2026-03/advance/")
    assert closed.status_code == 409
    assert "already closed" in closed.json()["detail"]
    assert lead_api.post(f"{CYCLES}2031-01/advance/").status_code == 404
    assert lead_api.post(f"{CYCLES}2026-03/advance/", {"state": "sideways"}).status_code == 400


def test_staff_advance_through_the_api(nominating):
    staff_api = api_for(UserFactory(username="root", is_staff=True))
    assert staff_api.post(f"{CYCLES}2026-03/advance/").json()["state"] == "voting"


def nomination(**overrides):
    return {"cycle": "2026-03", "category": "fast-fail", "nominee": "ben",
            "reason": "Stopped the doomed rewrite in two days.", **overrides}


def test_create_a_nomination(nominating, fast_fail, people, ann_api):
    experiment = ExperimentFactory(failed=True)
    response = ann_api.post(NOMINATIONS, nomination(experiment=experiment.pk))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("cycle", "category", "nominee", "nominator", "experiment", "postmortem")} == {
        "cycle": "2026-03", "category": "fast-fail", "nominee": "ben", "nominator": "ann",
        "experiment": experiment.pk, "postmortem": None}
    assert Nomination.objects.get().nominator == people["ann"]


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"reason": ""}, "reason", "A nomination needs a reason"),
    ({"reason": None}, "reason", "null"),
    ({"nominee": "ann"}, "nominee", "You cannot nominate yourself."),
    ({"nominee": "nobody"}, "nominee", "Unknown user"),
    ({"category": "best-hair"}, "category", "Unknown award category"),
    ({"cycle": "March"}, "cycle", "YYYY-MM"),
    ({"cycle": "2030-01"}, "cycle", "There is no award cycle for 2030-01"),
    ({"experiment": 999999}, "experiment", "does not exist"),
])
def test_invalid_nominations_are_400_naming_the_rule(nominating, fast_fail, people, ann_api, overrides, field,
                                                      message):
    data = nomination(**overrides)
    if overrides.get("reason", "") is None:
        data.pop("reason")
    response = ann_api.post(NOMINATIONS, data)
    assert response.status_code == 400
    errors = response.json()[field]
    assert message in " ".join(errors) or (message == "null" and errors)
    assert not Nomination.objects.exists()


def test_a_duplicate_nomination_is_400(nominating, fast_fail, people, ann_api):
    assert ann_api.post(NOMINATIONS, nomination()).status_code == 201
    response = ann_api.post(NOMINATIONS, nomination(reason="Again"))
    assert response.status_code == 400
    assert "already nominated" in response.json()["nominee"][0]


def test_nominating_outside_the_nominating_stage_is_409(voting, fast_fail, people, ann_api):
    response = ann_api.post(NOMINATIONS, nomination())
    assert response.status_code == 409
    assert "only accepted while a cycle is nominating" in response.json()["detail"]


def test_a_restricted_postmortem_of_another_team_is_not_found_as_evidence(nominating, fast_fail, people, ann_api):
    restricted = PostMortemFactory(team=TeamFactory(slug="secret"), restricted=True)
    response = ann_api.post(NOMINATIONS, nomination(postmortem=restricted.pk))
    assert response.status_code == 400
    assert "does not exist" in response.json()["postmortem"][0]


def test_nomination_lists_hide_restricted_evidence_from_people_outside_the_team(nominating, fast_fail, people,
                                                                                member, member_api, team):
    restricted = PostMortemFactory(team=team, restricted=True)
    NominationFactory(cycle=nominating, category=fast_fail, nominator=member, nominee=people["ben"],
                      postmortem=restricted)
    assert member_api.get(NOMINATIONS).json()["results"][0]["postmortem"] == restricted.pk
    outsider_view = api_for(people["ann"]).get(NOMINATIONS).json()["results"][0]
    assert outsider_view["postmortem"] is None
    nomination_id = outsider_view["id"]
    assert api_for(people["ann"]).get(f"{NOMINATIONS}{nomination_id}/").json()["postmortem"] is None


def test_nominations_filter_by_cycle_category_and_nominee(nominating, categories, people, ann_api):
    april = AwardCycleFactory(month=dt.date(2026, 4, 1))
    NominationFactory(cycle=nominating, category=categories["fast-fail"], nominee=people["ben"],
                      nominator=people["cat"])
    NominationFactory(cycle=nominating, category=categories["pivot-master"], nominee=people["dan"],
                      nominator=people["cat"])
    NominationFactory(cycle=april, category=categories["fast-fail"], nominee=people["ben"], nominator=people["cat"])
    assert ann_api.get(NOMINATIONS).json()["count"] == 3
    assert ann_api.get(NOMINATIONS, {"cycle": "2026-03"}).json()["count"] == 2
    assert ann_api.get(NOMINATIONS, {"cycle": "2026-03", "category": "fast-fail"}).json()["count"] == 1
    assert ann_api.get(NOMINATIONS, {"nominee": "ben"}).json()["count"] == 2
    for bad in ({"cycle": "2026-3"}, {"cycle": "2026-13"}, {"category": "nope"}, {"nominee": "nobody"}):
        assert ann_api.get(NOMINATIONS, bad).status_code == 400, bad


def test_vote_then_change_it(ballot, people, ann_api):
    first = ann_api.post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "ben"})
    assert first.status_code == 201
    changed = ann_api.post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "cat"})
    assert changed.status_code == 200
    assert changed.json()["id"] == first.json()["id"]
    assert [(row["category"], row["nominee"]) for row in ann_api.get(VOTES).json()["results"]] == [
        ("fast-fail", "cat")]
    assert Vote.objects.count() == 1


def test_votes_list_only_your_own(ballot, people, ann_api):
    VoteFactory(cycle=ballot, category=ballot.nominations.first().category, voter=people["dan"],
                nominee=people["ben"])
    assert ann_api.get(VOTES).json()["count"] == 0
    other_vote = Vote.objects.get()
    assert ann_api.get(f"{VOTES}{other_vote.pk}/").status_code == 404
    assert ann_api.get(VOTES, {"cycle": "nope"}).status_code == 400


@pytest.mark.parametrize("nominee", ["dan", "zed"])
def test_votes_for_people_not_nominated_in_that_category_are_400(ballot, categories, people, ann_api, nominee):
    NominationFactory(cycle=ballot, category=categories["pivot-master"], nominee=people["dan"],
                      nominator=people["cat"])
    UserFactory(username="zed")
    response = ann_api.post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": nominee})
    assert response.status_code == 400
    assert "is not nominated for Fast Fail Award in this cycle" in response.json()["nominee"][0]


def test_a_self_vote_is_400(ballot, people):
    response = api_for(people["ben"]).post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "ben"})
    assert response.status_code == 400
    assert response.json()["nominee"] == ["You cannot vote for yourself."]


def test_voting_outside_the_voting_stage_is_409(nominating, fast_fail, people, ann_api):
    NominationFactory(cycle=nominating, category=fast_fail, nominee=people["ben"], nominator=people["cat"])
    response = ann_api.post(VOTES, {"cycle": "2026-03", "category": "fast-fail", "nominee": "ben"})
    assert response.status_code == 409
    assert "only accepted while a cycle is voting" in response.json()["detail"]


def test_the_schema_documents_the_award_endpoints(member_client):
    response = member_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/awards/categories/", "/api/v1/awards/cycles/{month}/",
                 "/api/v1/awards/cycles/{month}/advance/", "/api/v1/awards/nominations/", "/api/v1/awards/votes/"):
        assert path in paths
