"""The post-mortem admin writes through the services: the publishing rules, owners, versions and
change events hold there too, and a refused write saves nothing and says why."""

import pytest
from django.urls import reverse

from learninghub.kernel.periods import Month
from postmortems.models import ActionItem, PostMortem
from tests.factories import UserFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def signalled():
    from learninghub.kernel.events import team_records_changed

    calls = []

    def receiver(sender, team_id, months, **kwargs):
        calls.append((team_id, months))

    team_records_changed.connect(receiver, dispatch_uid="tests-postmortems-admin")
    yield calls
    team_records_changed.disconnect(dispatch_uid="tests-postmortems-admin")


def _form(admin_client, team, member, **overrides):
    prefix = admin_client.get(reverse("admin:postmortems_postmortem_add")).context[
        "inline_admin_formsets"][0].formset.prefix
    data = {"team": team.pk, "title": "Ranking outage", "severity": "sev2", "occurred_at_0": "2025-11-03",
            "occurred_at_1": "08:00:00", "detected_at_0": "2025-11-03", "detected_at_1": "09:00:00",
            "resolved_at_0": "2025-11-03", "resolved_at_1": "12:00:00", "what_happened": "- It broke.",
            "root_cause": "", "what_went_well": "", "failure_mode": "", "status": "published",
            f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-0-position": "0",
            f"{prefix}-0-description": "Add an alert", f"{prefix}-0-owner": member.pk,
            f"{prefix}-0-due_date": "2025-12-10", f"{prefix}-0-status": "open"}
    return {**data, **overrides}


def test_adding_in_the_admin_goes_through_the_service(admin_client, team, member, signalled,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:postmortems_postmortem_add"), _form(admin_client, team, member))
    assert response.status_code == 302, response.content
    postmortem = PostMortem.objects.get(title="Ranking outage")
    assert postmortem.action_items.get().owner == member
    assert (team.pk, frozenset({Month(2025, 11), Month(2025, 12)})) in signalled


def test_the_admin_shows_the_services_refusal_and_saves_nothing(admin_client, team, member, signalled,
                                                                django_capture_on_commit_callbacks):
    data = _form(admin_client, team, member, occurred_at_0="", occurred_at_1="")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:postmortems_postmortem_add"), data, follow=True)
    assert not PostMortem.objects.exists() and not ActionItem.objects.exists()
    shown = [str(message) for message in response.context["messages"]]
    assert any("Not saved" in line and "Needed to publish" in line for line in shown), shown
    assert signalled == []


def test_an_owner_outside_the_team_is_refused(admin_client, team, member, outsider):
    data = _form(admin_client, team, member)
    owner_key = next(key for key in data if key.endswith("-0-owner"))
    response = admin_client.post(reverse("admin:postmortems_postmortem_add"), {**data, owner_key: outsider.pk},
                                 follow=True)
    assert not PostMortem.objects.exists()
    assert any("not a member" in str(message) for message in response.context["messages"])


def test_an_admin_edit_bumps_the_version(admin_client, team, member, django_capture_on_commit_callbacks):
    postmortem = PostMortemFactory(team=team, title="Ranking outage")
    data = _form(admin_client, team, member, title="Ranking outage, revised")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:postmortems_postmortem_change", args=[postmortem.pk]), data)
    assert response.status_code == 302, response.content
    postmortem.refresh_from_db()
    assert postmortem.title == "Ranking outage, revised" and postmortem.version == 2


def test_an_action_item_edited_alone_goes_through_the_post_mortem_service(admin_client, team, member, signalled,
                                                                          django_capture_on_commit_callbacks):
    postmortem = PostMortemFactory(team=team)
    item = ActionItem.objects.create(postmortem=postmortem, description="Add an alert", owner=member)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:postmortems_actionitem_change", args=[item.pk]), {
            "description": "Add an alert", "owner": member.pk, "due_date": "2025-10-02", "status": "done",
            "completed_at_0": "", "completed_at_1": "", "lesson": ""})
    assert response.status_code == 302, response.content
    item.refresh_from_db()
    assert item.status == "done" and item.completed_at is not None, "done stamps completed_at"
    assert any(Month(2025, 10) in months for team_id, months in signalled if team_id == team.pk)
