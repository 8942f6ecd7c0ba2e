"""The post-mortem form: saved as one unit, drafts vs publishing, rows edited in place, and
two people editing at once cannot overwrite each other."""

import datetime as dt

import pytest
from django.urls import reverse

from experiments.models import Lesson
from postmortems.models import ActionItem, PostMortem
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.postmortems.helpers import form_data

pytestmark = pytest.mark.django_db

CREATE = reverse("postmortems:create")


def test_a_member_writes_a_post_mortem_with_action_items_and_lessons(member_client, team, member, teammate):
    data = form_data(team=team, title="Feature pipeline failure", status="published", items=[
        {"description": "Add schema checks", "owner": teammate, "due_date": "2026-04-01"},
        {"description": "Write the rollback runbook", "owner": member},
    ], lessons=["Validate at every boundary", "Contracts for schemas"])
    response = member_client.post(CREATE, data)
    postmortem = PostMortem.objects.get()
    assert response.status_code == 302 and response.url == postmortem.get_absolute_url()
    assert postmortem.team == team and postmortem.status == "published" and postmortem.created_by == member
    assert [(i.description, i.owner, i.due_date, i.position) for i in postmortem.action_items.all()] == [
        ("Add schema checks", teammate, dt.date(2026, 4, 1), 0), ("Write the rollback runbook", member, None, 1)]
    assert list(postmortem.lessons.values_list("text", "team_id")) == [
        ("Validate at every boundary", team.pk), ("Contracts for schemas", team.pk)]
    page = member_client.get(postmortem.get_absolute_url()).content.decode()
    assert "Add schema checks" in page and "Contracts for schemas" in page
    assert "detected after <strong>3 h 30 min</strong>" in page


@pytest.mark.parametrize("bad_row", [
    {"description": "Third item", "owner": "OUTSIDER"},
    {"description": "Third item", "due_date": "next tuesday"},
    {"description": "", "due_date": "2026-04-01"},
])
def test_an_invalid_third_action_item_leaves_nothing_behind(member_client, team, teammate, outsider, bad_row):
    bad_row = {**bad_row, "owner": outsider} if bad_row.get("owner") == "OUTSIDER" else bad_row
    data = form_data(team=team, title="Typed title stays", items=[
        {"description": "First item", "owner": teammate}, {"description": "Second item"}, bad_row,
    ], lessons=["A lesson that must survive the round trip"])
    response = member_client.post(CREATE, data)
    assert response.status_code == 400
    assert PostMortem.objects.count() == ActionItem.objects.count() == Lesson.objects.count() == 0
    third = response.context["items"].forms[2]
    assert third.errors, "the error is beside the third row"
    assert not response.context["items"].forms[0].errors and not response.context["items"].forms[1].errors
    page = response.content.decode()
    for typed in ("Typed title stays", "First item", "Second item", "A lesson that must survive the round trip"):
        assert typed in page
    assert "Nothing was saved" in page


def test_a_draft_may_be_incomplete(member_client, team):
    data = form_data(team=team, title="Half written", occurred_at="", detected_at="", resolved_at="")
    assert member_client.post(CREATE, data).status_code == 302
    assert PostMortem.objects.get().status == "draft"


def test_publishing_needs_the_timeline_and_an_action_item_or_lesson(member_client, team):
    data = form_data(team=team, status="published", occurred_at="", resolved_at="")
    response = member_client.post(CREATE, data)
    assert response.status_code == 400
    form = response.context["form"]
    assert "occurred_at" in form.errors and "resolved_at" in form.errors and "detected_at" not in form.errors
    assert "at least one action item or lesson" in str(form.errors["status"])
    assert not PostMortem.objects.exists()
    data = form_data(team=team, status="published", lessons=["One lesson is enough"])
    assert member_client.post(CREATE, data).status_code == 302


def test_the_timeline_must_run_forwards(member_client, team):
    response = member_client.post(CREATE, form_data(team=team, detected_at="2026-03-02T09:00"))
    assert response.status_code == 400
    assert "detected before it occurred" in str(response.context["form"].errors["detected_at"])
    response = member_client.post(CREATE, form_data(team=team, resolved_at="2026-03-02T11:00"))
    assert "resolved before it was detected" in str(response.context["form"].errors["resolved_at"])
    assert not PostMortem.objects.exists()


def test_only_the_teams_you_belong_to_are_offered(member_client, team, other_team):
    response = member_client.post(CREATE, form_data(team=other_team))
    assert response.status_code == 400 and "team" in response.context["form"].errors
    assert not PostMortem.objects.exists()


def test_editing_updates_rows_in_place_removes_and_adds(member_client, team, member, teammate):
    postmortem = PostMortemFactory(team=team)
    keep = ActionItemFactory(postmortem=postmortem, owner=member, description="Keep me")
    drop = ActionItemFactory(postmortem=postmortem, owner=member, description="Drop me")
    lesson = Lesson.objects.create(team=team, postmortem=postmortem, text="Old lesson")
    data = form_data(title="Renamed", version=postmortem.version, initial_items=2, initial_lessons=1, items=[
        {"id": keep.pk, "description": "Keep me, reworded", "owner": teammate},
        {"id": drop.pk, "description": "Drop me", "DELETE": True},
        {"description": "Brand new", "owner": member},
    ], lessons=[{"id": lesson.pk, "text": "Old lesson, sharper"}])
    response = member_client.post(reverse("postmortems:edit", args=[postmortem.pk]), data)
    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.title == "Renamed" and postmortem.version == 2
    items = list(postmortem.action_items.all())
    assert [(i.pk == keep.pk, i.description, i.owner) for i in items] == [
        (True, "Keep me, reworded", teammate), (False, "Brand new", member)]
    assert not ActionItem.objects.filter(pk=drop.pk).exists()
    assert list(postmortem.lessons.values_list("pk", "text")) == [(lesson.pk, "Old lesson, sharper")]


def test_the_edit_form_reads_owner_and_lesson_choices_once_whatever_the_rows(member_client, team, member, teammate,
                                                                            django_assert_max_num_queries):
    postmortem = PostMortemFactory(team=team)
    lesson = Lesson.objects.create(team=team, postmortem=postmortem, text="Validate at every boundary")
    ActionItemFactory(postmortem=postmortem, owner=teammate, lesson=lesson, description="First")
    url = reverse("postmortems:edit", args=[postmortem.pk])
    with django_assert_max_num_queries(30) as small:
        member_client.get(url)
    for number in range(5):
        ActionItemFactory(postmortem=postmortem, owner=member, description=f"Item {number}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = member_client.get(url).content.decode()
    # The owner is a type-ahead picker: the chosen id in its hidden input, never a list of everyone.
    assert f'name="items-0-owner" value="{teammate.pk}"' in page and f'<option value="{lesson.pk}" selected>' in page


def test_the_second_of_two_concurrent_edits_is_refused_and_keeps_the_typed_text(client, team, member, teammate):
    postmortem = PostMortemFactory(team=team, title="Original")
    client.force_login(member)
    first_page = client.get(reverse("postmortems:edit", args=[postmortem.pk]))
    based_on = first_page.context["form"].initial["version"]
    # Someone else saves first.
    client.force_login(teammate)
    assert client.post(reverse("postmortems:edit", args=[postmortem.pk]),
                       form_data(title="Their edit", version=based_on)).status_code == 302
    # The first editor's save, based on the old version, is refused.
    client.force_login(member)
    mine = form_data(title="My edit", version=based_on, what_happened="- My careful account of events")
    response = client.post(reverse("postmortems:edit", args=[postmortem.pk]), mine)
    assert response.status_code == 409
    page = response.content.decode()
    assert "someone else saved this post-mortem" in page
    assert "My edit" in page and "My careful account of events" in page
    postmortem.refresh_from_db()
    assert postmortem.title == "Their edit" and postmortem.version == based_on + 1


def test_non_members_cannot_edit_and_only_leads_delete(client, team, member, lead, outsider):
    postmortem = PostMortemFactory(team=team)
    client.force_login(outsider)
    assert client.get(reverse("postmortems:edit", args=[postmortem.pk])).status_code == 403
    assert client.post(reverse("postmortems:edit", args=[postmortem.pk]), form_data()).status_code == 403
    client.force_login(member)
    assert client.post(reverse("postmortems:delete", args=[postmortem.pk])).status_code == 403
    client.force_login(lead)
    assert client.get(reverse("postmortems:delete", args=[postmortem.pk])).status_code == 200
    assert client.post(reverse("postmortems:delete", args=[postmortem.pk])).status_code == 302
    assert not PostMortem.objects.exists()


def test_someone_in_no_team_cannot_open_the_form(client, outsider, other_team):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="loner"))
    assert client.get(CREATE).status_code == 403


def test_markdown_is_rendered_and_sanitised(member_client, team):
    postmortem = PostMortemFactory(team=team, what_happened="- **bold** <script>alert('x')</script>\n"
                                                            "- [link](javascript:alert(1))")
    page = member_client.get(postmortem.get_absolute_url()).content.decode()
    assert "<strong>bold</strong>" in page
    assert "<script>alert('x')" not in page and "javascript:alert" not in page
