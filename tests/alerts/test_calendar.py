"""The iCalendar feed of a person's action items, at a secret URL that can be rotated."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest

from learninghub.insights.alerts.models import CalendarFeed
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db


def test_the_feed_parses_and_lists_my_due_dates(clock, team, member, member_client, client):
    postmortem = PostMortemFactory(team=team, title="Nightly job, schema; drift")
    mine = ActionItemFactory(postmortem=postmortem, owner=member, due_date=dt.date(2026, 11, 30),
                             description="Add a schema check, and alert — on drift " + "x" * 80)
    ActionItemFactory(postmortem=postmortem, owner=member, due_date=None)
    ActionItemFactory(postmortem=postmortem, due_date=dt.date(2026, 11, 29))  # someone else's
    member_client.post("/alerts/calendar/rotate/")
    feed = CalendarFeed.objects.get(user=member)
    client.logout()
    response = client.get(f"/alerts/calendar/{feed.secret}.ics")  # no session: the secret is the credential
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == dt.date(2026, 11, 30)
    assert str(event["SUMMARY"]) == "Due: " + mine.description
    assert str(event["UID"]).startswith(f"action-item-{mine.pk}@")
    assert str(event["URL"]).endswith(f"#action-item-{mine.pk}")


def test_a_rotated_secret_is_404(member, member_client, client):
    member_client.post("/alerts/calendar/rotate/")
    old = CalendarFeed.objects.get(user=member).secret
    member_client.post("/alerts/calendar/rotate/")
    new = CalendarFeed.objects.get(user=member).secret
    assert new != old
    assert client.get(f"/alerts/calendar/{old}.ics").status_code == 404
    assert client.get(f"/alerts/calendar/{new}.ics").status_code == 200
    assert client.get("/alerts/calendar/guess.ics").status_code == 404
