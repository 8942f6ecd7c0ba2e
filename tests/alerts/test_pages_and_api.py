"""Alert pages (team settings, my subscriptions with "send test", recent notifications) and the API."""

from __future__ import annotations

import pytest
from django.core import mail

from learninghub.insights.alerts.models import AlertRule, Channel, Notification, NotificationStatus, Subscription
from tests.alerts.conftest import team_webhook

pytestmark = pytest.mark.django_db


def test_the_team_page_links_to_its_alert_settings(member_client, team):
    response = member_client.get(f"/teams/{team.slug}/")
    assert f'href="/alerts/teams/{team.slug}/"'.encode() in response.content


def test_a_lead_sets_thresholds_on_the_team_page(lead_client, team):
    page = lead_client.get(f"/alerts/teams/{team.slug}/")
    assert page.status_code == 200 and b"Save thresholds" in page.content
    data = {"thresholds": "1", "repeat_rate-enabled": "on", "repeat_rate-threshold": "0.4",
            "overdue-enabled": "on", "overdue-threshold": "5", "review_waiting-threshold": "7",
            "system_burst-enabled": "on", "system_burst-threshold": "4", "award_deadline-threshold": "2"}
    response = lead_client.post(f"/alerts/teams/{team.slug}/", data)
    assert response.status_code == 302
    rules = {rule.kind: rule for rule in AlertRule.objects.filter(team=team)}
    assert rules["repeat_rate"].threshold == 0.4 and not rules["repeat_rate"].alert_on_rise
    assert rules["system_burst"].threshold == 4
    assert not rules["review_waiting"].enabled and not rules["weekly_digest"].enabled


def test_out_of_range_thresholds_show_as_form_errors(lead_client, team):
    response = lead_client.post(f"/alerts/teams/{team.slug}/", {"thresholds": "1", "repeat_rate-threshold": "7",
                                                                "overdue-threshold": "5",
                                                                "review_waiting-threshold": "7",
                                                                "system_burst-threshold": "4",
                                                                "award_deadline-threshold": "2"})
    assert response.status_code == 200
    assert response.context["form"].errors["repeat_rate-threshold"]
    assert not AlertRule.objects.exists()


def test_members_see_but_cannot_change_thresholds(member_client, team):
    page = member_client.get(f"/alerts/teams/{team.slug}/")
    assert page.status_code == 200 and b"Save thresholds" not in page.content
    assert member_client.post(f"/alerts/teams/{team.slug}/", {"thresholds": "1"}).status_code == 403


def test_my_subscriptions_page_adds_one_and_sends_a_test(member_client, member, django_capture_on_commit_callbacks):
    response = member_client.post("/alerts/subscriptions/", {"channel": "email", "kinds": ["weekly_digest"]})
    assert response.status_code == 302
    subscription = Subscription.objects.get(owner=member)
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(f"/alerts/subscriptions/{subscription.pk}/test/")
    assert mail.outbox[-1].to == [member.email] and "Test message" in mail.outbox[-1].subject
    page = member_client.get("/alerts/notifications/")
    assert b"Test message from LearningHub" in page.content and b"Sent" in page.content


def test_a_bad_webhook_url_is_a_form_error(member_client, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    response = member_client.post("/alerts/subscriptions/", {"channel": "slack", "target": "http://127.0.0.1/x"})
    assert response.status_code == 200
    assert "private" in str(response.context["form"].errors["target"])
    assert not Subscription.objects.exists()


def test_notifications_page_shows_states_of_failed_sends(clock, lead_client, lead, team, receiver,
                                                         django_capture_on_commit_callbacks):
    subscription = team_webhook(team, lead, receiver)
    receiver.plan = [500]
    with django_capture_on_commit_callbacks(execute=True):
        lead_client.post(f"/alerts/subscriptions/{subscription.pk}/test/")
    assert Notification.objects.get().status == NotificationStatus.FAILED
    page = lead_client.get("/alerts/notifications/", {"status": "failed"})
    assert b"HTTP 500" in page.content


def test_others_cannot_touch_my_subscription(member, outsider_api, client, outsider):
    subscription = Subscription.objects.create(owner=member, channel=Channel.EMAIL)
    client.force_login(outsider)
    assert client.post(f"/alerts/subscriptions/{subscription.pk}/test/").status_code == 404
    assert outsider_api.get(f"/api/v1/alert-subscriptions/{subscription.pk}/").status_code == 404


def test_api_thresholds_lead_writes_member_reads(lead_api, member_api, team):
    response = lead_api.post("/api/v1/alert-rules/", {"team": team.slug, "kind": "system_burst", "threshold": 5},
                             format="json")
    assert response.status_code == 201, response.json()
    again = lead_api.post("/api/v1/alert-rules/", {"team": team.slug, "kind": "system_burst", "threshold": 6},
                          format="json")
    assert again.json()["id"] == response.json()["id"] and again.json()["threshold"] == 6
    assert member_api.get("/api/v1/alert-rules/", {"team": team.slug}).json()["results"][0]["threshold"] == 6
    assert member_api.patch(f"/api/v1/alert-rules/{response.json()['id']}/", {"threshold": 2},
                            format="json").status_code == 403
    assert member_api.post("/api/v1/alert-rules/", {"team": team.slug, "kind": "system_burst", "threshold": 2},
                           format="json").status_code == 403
    bad = lead_api.patch(f"/api/v1/alert-rules/{response.json()['id']}/", {"threshold": 0.5}, format="json")
    assert bad.status_code == 400 and "threshold" in bad.json()


def test_api_subscriptions(member_api, member, team, settings, django_capture_on_commit_callbacks):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    bad = member_api.post("/api/v1/alert-subscriptions/", {"channel": "webhook", "target": "file:///etc/passwd"},
                          format="json")
    assert bad.status_code == 400 and "target" in bad.json()
    team_channel = member_api.post("/api/v1/alert-subscriptions/", {"channel": "email", "team": team.slug,
                                                                    "target": "a@example.com"}, format="json")
    assert team_channel.status_code == 400  # members don't add team channels: leads do
    created = member_api.post("/api/v1/alert-subscriptions/", {"channel": "email", "kinds": ["weekly_digest"]},
                              format="json")
    assert created.status_code == 201 and created.json()["owner"] == member.username
    with django_capture_on_commit_callbacks(execute=True):
        tested = member_api.post(f"/api/v1/alert-subscriptions/{created.json()['id']}/test/")
    assert tested.status_code == 202
    assert Notification.objects.get(pk=tested.json()["notification"]).status == NotificationStatus.SENT
    paused = member_api.patch(f"/api/v1/alert-subscriptions/{created.json()['id']}/", {"paused": True}, format="json")
    assert paused.json()["paused"] is True


def test_admin_lists_every_alert_model(client, team, lead):
    from tests.factories import UserFactory

    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    Subscription.objects.create(owner=lead, team=team, channel=Channel.EMAIL, target="x@example.com")
    client.force_login(staff)
    for model in ("alertrule", "subscription", "notification", "calendarfeed"):
        assert client.get(f"/admin/alerts/{model}/").status_code == 200, model


def test_members_do_not_see_the_team_channels_secrets(client, team, member, lead):
    subscription = Subscription.objects.create(owner=lead, team=team, channel=Channel.WEBHOOK,
                                               target="https://hooks.example.com/T0/secret-path")
    client.force_login(member)
    assert subscription.secret.encode() not in client.get(f"/alerts/teams/{team.slug}/").content
    client.force_login(lead)
    page = client.get(f"/alerts/teams/{team.slug}/").content
    assert subscription.secret.encode() in page and b"secret-path" in page
