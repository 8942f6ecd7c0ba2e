"""Emails: owners hear about assignments (after commit), and overdue reminders go out once a
day however often the beat task runs."""

import datetime as dt
import smtplib

import pytest
from django.urls import reverse
from django.utils import timezone

from postmortems import services
from postmortems.models import ActionItem
from postmortems.tasks import send_overdue_reminders
from tests.factories import UserFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.postmortems.helpers import api_payload, form_data

pytestmark = pytest.mark.django_db


def test_the_owner_is_emailed_when_an_item_is_assigned(member_api, team, teammate, mailoutbox,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_api.post("/api/v1/postmortems/", api_payload(team=team, title="Cache stampede",
                                   action_items=[{"description": "Add jitter to TTLs", "owner": "tia"},
                                                 {"description": "Nobody's yet"}]), format="json")
    assert response.status_code == 201
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["tia@example.com"]
    assert "Add jitter to TTLs" in message.subject and "Cache stampede" in message.body
    assert f"/postmortems/{response.data['id']}/" in message.body


def test_nothing_is_sent_before_commit_or_when_the_save_fails(member_api, team, teammate, outsider, mailoutbox,
                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        member_api.post("/api/v1/postmortems/", api_payload(team=team, action_items=[
            {"description": "Fine", "owner": "tia"}, {"description": "Bad", "owner": "olga"}]), format="json")
    assert mailoutbox == []


def test_a_new_owner_is_told_and_an_unchanged_one_is_not(member_client, team, member, teammate, mailoutbox,
                                                         django_capture_on_commit_callbacks):
    postmortem = PostMortemFactory(team=team, draft=True)
    item = ActionItemFactory(postmortem=postmortem, owner=member, description="Reassign me")
    steady = ActionItemFactory(postmortem=postmortem, owner=member, description="Stay put")
    data = form_data(version=postmortem.version, initial_items=2, items=[
        {"id": item.pk, "description": "Reassign me", "owner": teammate},
        {"id": steady.pk, "description": "Stay put, reworded", "owner": member}])
    with django_capture_on_commit_callbacks(execute=True):
        assert member_client.post(reverse("postmortems:edit", args=[postmortem.pk]), data).status_code == 302
    assert [m.to for m in mailoutbox] == [["tia@example.com"]]


def test_overdue_reminders_are_sent_once_a_day(team, member, teammate, mailoutbox):
    today = timezone.localdate()
    first = ActionItemFactory(postmortem=PostMortemFactory(team=team, title="Outage A"), owner=member,
                              description="Fix the alert", overdue=True)
    second = ActionItemFactory(postmortem=PostMortemFactory(team=team, title="Outage B"), owner=member,
                               description="Write the runbook", overdue=True)
    ActionItemFactory(owner=teammate, description="Theirs, overdue", overdue=True)
    ActionItemFactory(owner=teammate, description="Done already", done=True,
                      due_date=today - dt.timedelta(days=5))
    ActionItemFactory(owner=teammate, description="Not due yet")
    ActionItemFactory(owner=None, description="Nobody's", overdue=True)

    assert send_overdue_reminders.delay().get() == 2
    assert send_overdue_reminders.delay().get() == 0, "a second run the same day (a retry) sends nothing"
    assert sorted(m.to[0] for m in mailoutbox) == ["mia@example.com", "tia@example.com"]
    mine = next(m for m in mailoutbox if m.to == ["mia@example.com"])
    assert "Fix the alert" in mine.body and "Write the runbook" in mine.body and "2 action items" in mine.subject
    assert "Done already" not in str([m.body for m in mailoutbox])
    assert set(ActionItem.objects.filter(pk__in=[first.pk, second.pk]).values_list("last_reminded_on", flat=True)) \
        == {today}
    # The next day they are reminded again.
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert send_overdue_reminders.delay(tomorrow).get() == 2
    assert send_overdue_reminders.delay(tomorrow).get() == 0
    assert len(mailoutbox) == 4


def test_a_failed_send_is_retried_rather_than_lost(team, member, mailoutbox, monkeypatch):
    ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, overdue=True)
    real_send_mail = services.send_mail

    def broken(**kwargs):
        raise smtplib.SMTPServerDisconnected("mail server went away")

    monkeypatch.setattr(services, "send_mail", broken)
    with pytest.raises(smtplib.SMTPException):
        services.overdue_reminders_send()
    assert ActionItem.objects.get().last_reminded_on is None, "the claim rolled back with the failed send"
    monkeypatch.setattr(services, "send_mail", real_send_mail)
    assert services.overdue_reminders_send() == 1 and len(mailoutbox) == 1


def test_owners_without_an_email_address_are_skipped(team, mailoutbox):
    silent = UserFactory(username="silent", email="")
    ActionItemFactory(owner=silent, overdue=True)
    assert send_overdue_reminders.delay().get() == 0 and mailoutbox == []
