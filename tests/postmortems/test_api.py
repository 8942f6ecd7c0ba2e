"""/api/v1/postmortems/ and /api/v1/action-items/: shapes, rules, permissions, versions, filters
and bounded query counts."""

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from experiments.models import Lesson
from postmortems.models import ActionItem, PostMortem
from tests.factories import UserFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.postmortems.helpers import api_payload

pytestmark = pytest.mark.django_db

LIST = "/api/v1/postmortems/"


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


def test_create_with_nested_action_items_and_lessons(member_api, team, member, teammate):
    payload = api_payload(team=team, action_items=[
        {"description": "Add schema checks", "owner": "tia", "due_date": "2026-04-01"},
        {"description": "Runbook", "owner": "mia", "status": "done"},
    ], lessons=["Validate at boundaries", {"text": "Contracts", "documented_at": "2026-03-05T10:00:00Z"}])
    response = member_api.post(LIST, payload, format="json")
    assert response.status_code == 201, response.data
    data = response.data
    assert data["team"] == "recsys" and data["version"] == 1 and data["created_by"] == "mia"
    assert [(i["description"], i["owner"], i["due_date"], i["status"]) for i in data["action_items"]] == [
        ("Add schema checks", "tia", "2026-04-01", "open"), ("Runbook", "mia", None, "done")]
    assert data["action_items"][0]["completed_at"] is None and data["action_items"][1]["completed_at"]
    assert [(lesson["text"], parse_datetime(lesson["documented_at"])) for lesson in data["lessons"]][1] == (
        "Contracts", dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC))
    assert set(data["lessons"][0]) == {"id", "text", "documented_at"}
    assert data["action_item_count"] == 2 and data["lesson_count"] == 2


@pytest.mark.parametrize(("change", "field"), [
    ({"detected_at": "2026-03-02T09:00:00Z"}, "detected_at"),
    ({"resolved_at": "2026-03-02T12:00:00Z"}, "resolved_at"),
    ({"severity": "sev9"}, "severity"),
    ({"team": "nope"}, "team"),
])
def test_validation_errors_are_400_with_field_messages(member_api, team, change, field):
    response = member_api.post(LIST, {**api_payload(team=team), **change}, format="json")
    assert response.status_code == 400
    assert field in response.data
    assert not PostMortem.objects.exists()


def test_an_invalid_third_action_item_leaves_nothing_behind(member_api, team, teammate, outsider):
    payload = api_payload(team=team, action_items=[
        {"description": "One", "owner": "tia"}, {"description": "Two"}, {"description": "Three", "owner": "olga"},
    ])
    response = member_api.post(LIST, payload, format="json")
    assert response.status_code == 400
    assert response.data["action_items"][0] == {} and response.data["action_items"][1] == {}
    assert "not a member" in str(response.data["action_items"][2]["owner"])
    assert PostMortem.objects.count() == ActionItem.objects.count() == Lesson.objects.count() == 0


def test_publishing_needs_the_timeline_and_an_item_or_lesson(member_api, team):
    response = member_api.post(LIST, api_payload(team=team, occurred_at=None, action_items=[], lessons=[]),
                               format="json")
    assert response.status_code == 400
    assert "occurred_at" in response.data and "status" in response.data
    draft = member_api.post(LIST, api_payload(team=team, status="draft", occurred_at=None, action_items=[],
                                              lessons=[]), format="json")
    assert draft.status_code == 201


def test_writes_need_membership_and_deletes_need_a_lead(member_api, lead_api, outsider_api, team):
    assert outsider_api.post(LIST, api_payload(team=team), format="json").status_code == 403
    postmortem = PostMortemFactory(team=team)
    assert outsider_api.get(detail(postmortem.pk)).status_code == 200
    assert outsider_api.patch(detail(postmortem.pk), {"title": "x"}, format="json").status_code == 403
    assert member_api.delete(detail(postmortem.pk)).status_code == 403
    assert lead_api.delete(detail(postmortem.pk)).status_code == 204
    assert not PostMortem.objects.exists()


def test_anonymous_requests_are_refused(api_client, team):
    assert api_client.get(LIST).status_code in (401, 403)


def test_a_stale_version_is_409_or_412_and_changes_nothing(member_api, team):
    postmortem = PostMortemFactory(team=team, title="Original", draft=True)
    first = member_api.patch(detail(postmortem.pk), {"title": "First", "version": 1}, format="json")
    assert first.status_code == 200 and first.data["version"] == 2
    stale = member_api.patch(detail(postmortem.pk), {"title": "Second", "version": 1}, format="json")
    assert stale.status_code == 409 and stale.data["current_version"] == 2
    stale_if_match = member_api.patch(detail(postmortem.pk), {"title": "Third"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale_if_match.status_code == 412
    postmortem.refresh_from_db()
    assert postmortem.title == "First" and postmortem.version == 2
    assert member_api.patch(detail(postmortem.pk), {"title": "Fourth"}, format="json",
                            HTTP_IF_MATCH='"2"').status_code == 200


def test_updating_nested_rows_keeps_ids_adds_and_removes(member_api, team, member, teammate):
    created = member_api.post(LIST, api_payload(team=team, action_items=[
        {"description": "Keep", "owner": "mia"}, {"description": "Drop"}], lessons=["Lesson A", "Lesson B"]),
        format="json").data
    keep_id = created["action_items"][0]["id"]
    lesson_a = created["lessons"][0]["id"]
    response = member_api.patch(detail(created["id"]), {"version": 1, "action_items": [
        {"id": keep_id, "description": "Keep, reworded", "owner": "tia"}, {"description": "New"}],
        "lessons": [{"id": lesson_a, "text": "Lesson A, sharper"}]}, format="json")
    assert response.status_code == 200, response.data
    items = response.data["action_items"]
    assert [(i["id"] == keep_id, i["description"], i["owner"]) for i in items] == [
        (True, "Keep, reworded", "tia"), (False, "New", None)]
    assert [(lesson["id"], lesson["text"]) for lesson in response.data["lessons"]] == [(lesson_a, "Lesson A, sharper")]
    foreign = ActionItemFactory(owner=member)
    response = member_api.patch(detail(created["id"]), {"action_items": [{"id": foreign.pk, "description": "x"}]},
                                format="json")
    assert response.status_code == 400


def test_filters_follow_the_shared_vocabulary(member_api, team, other_team):
    march = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    first = PostMortemFactory(team=team, title="Alpha cache", severity="sev1", occurred_at=march,
                              failure_mode="infrastructure")
    PostMortemFactory(team=team, title="Beta join", severity="sev3", occurred_at=march + dt.timedelta(days=30),
                      repeat_of=first, status="draft")
    PostMortemFactory(team=other_team, title="Gamma", occurred_at=march - dt.timedelta(days=30))

    def titles(query: str) -> set[str]:
        response = member_api.get(f"{LIST}?{query}")
        assert response.status_code == 200, response.data
        return {row["title"] for row in response.data["results"]}

    assert titles("team=recsys") == {"Alpha cache", "Beta join"}
    assert titles("severity=sev1") == {"Alpha cache"}
    assert titles("status=draft") == {"Beta join"}
    assert titles("failure_mode=infrastructure") == {"Alpha cache"}
    assert titles("occurred_after=2026-03-10&occurred_before=2026-04-01") == {"Alpha cache"}
    assert titles("occurred_before=2026-03-10T12:00:00Z") == {"Gamma"}
    assert titles("repeat=true") == {"Beta join"}
    assert titles("search=cache") == {"Alpha cache"}
    for bad in ("occurred_after=yesterday", "severity=sev9", "team=nope", "repeat=maybe"):
        assert member_api.get(f"{LIST}?{bad}").status_code == 400, bad


def test_list_endpoints_use_a_bounded_number_of_queries(member_api, team, member, django_assert_max_num_queries):
    def make(count: int) -> None:
        for _ in range(count):
            postmortem = PostMortemFactory(team=team)
            ActionItemFactory.create_batch(2, postmortem=postmortem, owner=member)
            Lesson.objects.create(team=team, postmortem=postmortem, text="A lesson")
            postmortem.authors.add(member)

    make(2)
    with django_assert_max_num_queries(8):
        assert member_api.get(LIST).status_code == 200
    with django_assert_max_num_queries(8):
        assert member_api.get("/api/v1/action-items/").status_code == 200
    make(20)
    with django_assert_max_num_queries(8):
        assert len(member_api.get(LIST).data["results"]) == 22
    with django_assert_max_num_queries(8):
        assert member_api.get("/api/v1/action-items/").data["count"] == 44


def test_action_items_filters(member_api, team, other_team, member, teammate):
    today = timezone.localdate()
    mine_overdue = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, overdue=True)
    mine_later = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member,
                                   due_date=today + dt.timedelta(days=30))
    theirs_done = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=teammate, done=True,
                                    due_date=today - dt.timedelta(days=10))
    elsewhere = ActionItemFactory(postmortem=PostMortemFactory(team=other_team), owner=UserFactory(),
                                  due_date=today + dt.timedelta(days=3))

    def ids(query: str = "") -> list[int]:
        response = member_api.get(f"/api/v1/action-items/?{query}")
        assert response.status_code == 200, response.data
        return [row["id"] for row in response.data["results"]]

    assert ids()[0] == mine_overdue.pk, "overdue first"
    assert set(ids("owner=me")) == {mine_overdue.pk, mine_later.pk}
    assert ids("owner=tia") == [theirs_done.pk]
    assert ids("status=done") == [theirs_done.pk]
    assert ids("overdue=true") == [mine_overdue.pk]
    assert ids("team=data-platform") == [elsewhere.pk]
    assert set(ids(f"due_after={today}&due_before={today + dt.timedelta(days=31)}")) == {mine_later.pk,
                                                                                          elsewhere.pk}
    for bad in ("status=finished", "overdue=perhaps", "due_after=soon", "team=nope"):
        assert member_api.get(f"/api/v1/action-items/?{bad}").status_code == 400, bad


def test_patch_an_action_items_status(member_api, outsider_api, team, member, teammate):
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=teammate)
    response = member_api.patch(f"/api/v1/action-items/{item.pk}/", {"status": "done", "description": "ignored"},
                                format="json")
    assert response.status_code == 200 and response.data["status"] == "done" and response.data["completed_at"]
    item.refresh_from_db()
    assert item.description != "ignored" and item.completed_at is not None
    assert member_api.patch(f"/api/v1/action-items/{item.pk}/", {"status": "finished"},
                            format="json").status_code == 400
    assert outsider_api.patch(f"/api/v1/action-items/{item.pk}/", {"status": "open"},
                              format="json").status_code == 403
    assert member_api.put(f"/api/v1/action-items/{item.pk}/", {"status": "open"}, format="json").status_code == 405


def test_an_owner_outside_the_team_may_still_update_their_item(api_client, team):
    from tests.factories import issue_token

    former = UserFactory(username="former")
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=former)
    _token, key = issue_token(former)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.patch(f"/api/v1/action-items/{item.pk}/", {"status": "in_progress"},
                            format="json").status_code == 200
