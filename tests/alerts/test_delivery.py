"""Delivery to a real HTTP receiver: retries until one delivery, signatures, timeouts, pausing."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from experiments import services as experiment_services
from learninghub.insights.alerts import channels, rules, services
from learninghub.insights.alerts.channels import DeliveryError
from learninghub.insights.alerts.models import AlertKind, Channel, Notification, NotificationStatus, RuleKind
from learninghub.insights.alerts.services import Alert
from learninghub.insights.alerts.tasks import deliver_notification, evaluate_alerts
from learninghub.insights.alerts.urlsafety import validate_webhook_url
from tests.alerts.conftest import team_webhook

pytestmark = pytest.mark.django_db


def alert(team, subject="team:1") -> Alert:
    return Alert(AlertKind.SYSTEM_BURST, subject, "2026-11-18", team.pk,
                 lambda: {"title": "3 crashed runs today", "lines": ["OOM"], "url": "http://x/e/"})


def test_500_three_times_then_200_is_exactly_one_delivery(clock, team, lead, receiver, on_commit):
    subscription = team_webhook(team, lead, receiver)
    receiver.plan = [500, 500, 500, 200]
    [notification] = on_commit(services.raise_alert, alert(team))
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.FAILED, 1)
    assert "HTTP 500" in notification.last_error

    for _ in range(3):  # the beat's sweep retries once each attempt's backoff has passed
        clock.shift(dt.timedelta(hours=1))
        evaluate_alerts.delay()
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.SENT, 4)
    assert notification.sent_at == timezone.now()

    clock.shift(dt.timedelta(hours=1))
    evaluate_alerts.delay()
    deliver_notification.delay(notification.pk)  # a duplicate message for a sent notification does nothing
    assert len(receiver.requests) == 4
    assert len(receiver.delivered) == 1
    assert all(r.headers["X-LearningHub-Delivery"] == str(notification.pk) for r in receiver.requests)
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_the_task_retries_with_exponential_backoff_on_a_worker():
    assert deliver_notification.autoretry_for == (DeliveryError,)
    assert deliver_notification.retry_backoff and deliver_notification.retry_jitter
    assert deliver_notification.max_retries >= 3
    assert services.retry_delay(1) < services.retry_delay(2) < services.retry_delay(3)


def test_backoff_spaces_the_sweeps_retries(clock, team, lead, receiver, on_commit):
    team_webhook(team, lead, receiver)
    receiver.plan = [500, 500]
    [notification] = on_commit(services.raise_alert, alert(team))
    evaluate_alerts.delay()  # not due yet
    assert len(receiver.requests) == 1
    clock.shift(services.retry_delay(1))
    evaluate_alerts.delay()
    assert len(receiver.requests) == 2
    notification.refresh_from_db()
    assert notification.next_attempt_at == timezone.now() + services.retry_delay(2)


def test_the_generic_webhook_is_signed_over_timestamp_and_body(clock, team, lead, receiver, on_commit):
    team_webhook(team, lead, receiver)
    on_commit(services.raise_alert, alert(team))
    [request] = receiver.requests
    assert request.verified is True
    assert request.headers[channels.SIGNATURE_HEADER].startswith("sha256=")
    assert request.json["kind"] == "system_burst" and request.json["title"] == "3 crashed runs today"
    timestamp, signature = request.headers[channels.TIMESTAMP_HEADER], request.headers[channels.SIGNATURE_HEADER]
    assert not channels.verify(receiver.secret, timestamp, request.body + b" ", signature)
    assert not channels.verify("wrong", timestamp, request.body, signature)
    assert not channels.verify(receiver.secret, timestamp, request.body, signature,
                               now=int(timestamp) + 3600)  # a replayed old message


def test_slack_and_teams_get_their_formats(clock, team, lead, receiver, on_commit):
    team_webhook(team, lead, receiver, channel=Channel.SLACK)
    team_webhook(team, lead, receiver, channel=Channel.TEAMS)
    on_commit(services.raise_alert, alert(team))
    bodies = sorted((r.json for r in receiver.requests), key=lambda body: "text" not in body)
    slack, teams = bodies
    assert slack["text"].startswith("3 crashed runs today") and slack["blocks"][0]["type"] == "header"
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"] == "http://x/e/"


def test_a_hanging_receiver_does_not_hold_a_save_beyond_its_timeout(clock, team, lead, receiver,
                                                                   django_capture_on_commit_callbacks):
    team_webhook(team, lead, receiver, kinds=[AlertKind.SYSTEM_BURST])
    services.rule_set(team=team, kind=RuleKind.SYSTEM_BURST, user=lead, threshold=1)
    receiver.plan = ["hang"]
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        experiment = experiment_services.experiment_create(team=team, user=lead, data={
            "title": "Crashed run", "hypothesis": "h", "outcome": "failure", "failure_kind": "system",
            "started_at": timezone.now() - dt.timedelta(hours=1), "ended_at": timezone.now(),
            "error_type": "RuntimeError"})
    elapsed = time.monotonic() - started
    assert experiment.pk
    assert elapsed < 1 + 2.5  # the 1 s timeout, not the receiver's 10 s hang; no inline retries
    notification = Notification.objects.get(kind=AlertKind.SYSTEM_BURST)
    assert notification.status == NotificationStatus.FAILED
    assert "Timeout" in notification.last_error


def test_a_failing_subscription_is_paused_and_its_owner_told(clock, settings, team, lead, receiver, on_commit):
    settings.ALERT_PAUSE_AFTER_FAILURES = 3
    subscription = team_webhook(team, lead, receiver)
    receiver.plan = [500] * 10
    on_commit(services.raise_alert, alert(team, "team:a"))
    on_commit(services.raise_alert, alert(team, "team:b"))
    on_commit(services.raise_alert, alert(team, "team:c"))
    subscription.refresh_from_db()
    assert subscription.paused and "3 failed deliveries" in subscription.paused_reason
    assert [m.to for m in mail.outbox if "paused" in m.subject] == [[lead.email]]
    assert on_commit(services.raise_alert, alert(team, "team:d")) == []  # paused: nothing more is sent
    assert len(receiver.requests) == 3


def test_one_failing_channel_does_not_stop_the_others(clock, team, lead, receiver, on_commit):
    from learninghub.insights.alerts.models import Subscription

    team_webhook(team, lead, receiver)
    Subscription.objects.create(owner=lead, team=team, channel=Channel.EMAIL, target="list@example.com")
    receiver.plan = [500]
    on_commit(services.raise_alert, alert(team))
    assert sorted(Notification.objects.values_list("status", flat=True)) == ["failed", "sent"]
    assert mail.outbox[-1].to == ["list@example.com"]


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)",
                                 "http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.0.0.5/hook",
                                 "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]/hook", "http://user:pw@example.com/", "not a url", ""])
def test_bad_webhook_urls_are_refused(settings, url):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError):
        validate_webhook_url(url)


def test_private_targets_are_allowed_only_when_configured(settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    assert validate_webhook_url("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"
    with pytest.raises(ValidationError):
        validate_webhook_url("gopher://127.0.0.1/")


def test_a_subscription_with_a_bad_url_is_not_saved(settings, team, lead):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as error:
        services.subscription_create(owner=lead, team=team, channel=Channel.SLACK, target="http://10.1.2.3/x")
    assert "target" in error.value.message_dict


def test_rules_evaluated_on_change_reach_the_channel(clock, team, lead, receiver, django_capture_on_commit_callbacks):
    team_webhook(team, lead, receiver, kinds=[AlertKind.SYSTEM_BURST])
    services.rule_set(team=team, kind=RuleKind.SYSTEM_BURST, user=lead, threshold=2)
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            experiment_services.experiment_create(team=team, user=lead, data={
                "title": f"Crash {n}", "hypothesis": "h", "outcome": "failure", "failure_kind": "system",
                "started_at": timezone.now() - dt.timedelta(hours=1), "ended_at": timezone.now()})
    assert [r.json["kind"] for r in receiver.delivered] == ["system_burst"]
    assert rules.evaluate(kinds=[RuleKind.SYSTEM_BURST]) == 0
