"""The weekly team digest: what it lists, its links, and figures equal to the team dashboard's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from learninghub.insights.alerts import rules
from learninghub.insights.alerts.digest import Week, digest_data
from learninghub.insights.alerts.models import AlertKind, Channel, Notification, RuleKind, Subscription
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db
MONDAY = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def week_of_records(team, member):
    earlier = ExperimentFactory(team=team, title="Old overfit", failed=True, started_at=at(2))
    ExperimentFactory(team=team, title="Bigger batch", started_at=at(17), is_novel=True)
    ExperimentFactory(team=team, title="Overfit again", failed=True, started_at=at(18), repeat_of=earlier)
    ExperimentFactory(team=team, title="Last week's", started_at=at(12))
    lesson = LessonFactory(team=team, experiment=earlier, text="Use early stopping", documented_at=at(19))
    LessonApplicationFactory(lesson=lesson, experiment=ExperimentFactory(team=team, started_at=at(1)),
                             applied_at=at(20))
    ActionItemFactory(postmortem=PostMortemFactory(team=team, occurred_at=at(3)), owner=member,
                      description="Add a schema check", due_date=dt.date(2026, 11, 20))


@pytest.mark.clock(MONDAY)
def test_the_digest_lists_the_week_with_links(clock, team, week_of_records):
    data = digest_data(team, Week.previous(MONDAY), now=MONDAY)
    assert data["week"]["key"] == "2026-W47"
    assert [e["label"] for e in data["experiments_started"]] == ["Bigger batch", "Overfit again"]
    assert [e["label"] for e in data["experiments_failed"]] == ["Overfit again"]
    assert data["repeats"][0]["record"]["label"] == "Overfit again"
    assert data["repeats"][0]["repeats"]["label"] == "Old overfit"
    assert data["lessons_documented"][0]["label"] == "Use early stopping"
    assert data["lessons_applied_count"] == 1
    [group] = data["overdue_by_owner"]
    assert group["items"][0]["label"] == "Add a schema check" and group["items"][0]["days"] == 3
    url = data["experiments_started"][0]["url"]
    assert url.startswith("http") and "/experiments/" in url


@pytest.mark.clock(MONDAY)
def test_the_digest_figures_equal_the_team_dashboard(clock, team, week_of_records, member_client):
    data = digest_data(team, Week.previous(MONDAY), now=MONDAY)
    response = member_client.get(f"/dashboards/{team.slug}/", {"from": "2026-11", "to": "2026-11"})
    assert response.status_code == 200
    dashboard = [(card.key, card.title, card.value, card.unit) for card in response.context["cards"]]
    assert dashboard
    assert [(f["key"], f["title"], f["value"], f["unit"]) for f in data["figures"]] == dashboard


@pytest.mark.clock(MONDAY)
def test_the_digest_is_emailed_once_as_html_and_text(clock, team, lead, week_of_records, on_commit):
    Subscription.objects.create(owner=lead, team=team, channel=Channel.EMAIL, target="recsys@example.com",
                                kinds=[AlertKind.WEEKLY_DIGEST])
    on_commit(rules.evaluate, kinds=[RuleKind.WEEKLY_DIGEST])
    on_commit(rules.evaluate, kinds=[RuleKind.WEEKLY_DIGEST])
    [message] = mail.outbox
    assert message.to == ["recsys@example.com"]
    assert "weekly digest" in message.subject
    assert "Overfit again repeats Old overfit" in message.body
    assert "Add a schema check" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert 'href="http' in html and "Use early stopping" in html
    assert Notification.objects.get().period_key == "2026-W47"


@pytest.mark.clock(dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC))
def test_the_digest_waits_for_monday_morning(clock, team, lead, on_commit):
    Subscription.objects.create(owner=lead, team=team, channel=Channel.EMAIL, target="recsys@example.com")
    assert on_commit(rules.evaluate, kinds=[RuleKind.WEEKLY_DIGEST]) == 0
    clock.shift(dt.timedelta(hours=1))
    assert on_commit(rules.evaluate, kinds=[RuleKind.WEEKLY_DIGEST]) == 1
