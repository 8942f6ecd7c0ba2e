"""Writes: raising alerts (one stored notification per subscription, idempotently), delivering
them, pausing failing subscriptions, thresholds, test messages and calendar-feed secrets."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from learninghub.insights.alerts import channels
from learninghub.insights.alerts.models import (
    THRESHOLDS,
    AlertKind,
    AlertRule,
    CalendarFeed,
    Channel,
    Notification,
    NotificationStatus,
    RuleKind,
    Subscription,
)
from learninghub.insights.alerts.urlsafety import validate_webhook_url
from learninghub.kernel.headers import header_text
from learninghub.kernel.models import Membership, Team
from learninghub.kernel.policy import require_lead, user_or_none
from learninghub.kernel.queue import enqueue_by_name

logger = logging.getLogger(__name__)

DELIVER_TASK = "alerts.tasks.deliver_notification"
# A "sending" claim older than this belongs to a worker that died: the notification may be re-claimed.
CLAIM_LEASE = dt.timedelta(minutes=5)
# Alerts addressed to a person that reach their email when they have no subscription for them.
FALLBACK_TO_EMAIL = {AlertKind.OVERDUE_ESCALATION, AlertKind.REVIEW_WAITING, AlertKind.VOTING_CLOSING}


def max_attempts() -> int:
    return int(getattr(settings, "ALERT_MAX_ATTEMPTS", 6))


def pause_after_failures() -> int:
    return int(getattr(settings, "ALERT_PAUSE_AFTER_FAILURES", 10))


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff: 30 s, 1, 2, 4 … minutes, at most an hour."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class Alert:
    """Something a rule found: what (kind), about what (subject), when (period), for whom.

    ``addressed_to`` names the people it is for (an owner, the leads); ``None`` means the whole
    team (its channels and its members' personal subscriptions). ``build`` makes the payload
    (title, lines, url, data), called only when some subscription has not had it yet.
    """

    kind: str
    subject_key: str
    period_key: str
    team_id: int | None
    build: Callable[[], dict]
    addressed_to: Iterable[int] | None = None


def _default_email(user_id: int) -> Subscription:
    try:
        with transaction.atomic():
            subscription, _ = Subscription.objects.get_or_create(
                owner_id=user_id, is_default=True, defaults={"name": "My email", "channel": Channel.EMAIL})
    except IntegrityError:
        subscription = Subscription.objects.get(owner_id=user_id, is_default=True)
    return subscription


def targets(alert: Alert) -> list[Subscription]:
    """The active subscriptions an alert goes to (each once)."""
    chosen: dict[int, Subscription] = {}
    if alert.team_id is not None:
        for subscription in Subscription.objects.active().filter(team_id=alert.team_id):
            chosen[subscription.pk] = subscription
    personal = Subscription.objects.filter(team__isnull=True).select_related("owner")
    if alert.addressed_to is None:
        members = Membership.objects.filter(team_id=alert.team_id).values("user_id")
        # A person's default email only carries what is addressed to them, never team-wide alerts.
        people = personal.filter(owner_id__in=members, is_default=False)
    else:
        wanted = set(alert.addressed_to)
        people = personal.filter(owner_id__in=wanted)
        covered = {s.owner_id for s in people if s.wants(alert.kind)}
        if alert.kind in FALLBACK_TO_EMAIL:
            for user_id in sorted(wanted - covered):
                default = _default_email(user_id)
                people = people | Subscription.objects.filter(pk=default.pk)
    for subscription in people:
        if not subscription.paused and subscription.wants(alert.kind):
            chosen[subscription.pk] = subscription
    return [s for s in chosen.values() if s.wants(alert.kind) and not s.paused]


def raise_alert(alert: Alert) -> list[Notification]:
    """Store one notification per target subscription that has not had this alert, and queue its
    delivery once the transaction commits. Running it again creates and sends nothing."""
    subscriptions = targets(alert)
    if not subscriptions:
        return []
    existing = set(Notification.objects.filter(
        kind=alert.kind, subject_key=alert.subject_key, period_key=alert.period_key,
        subscription__in=subscriptions).values_list("subscription_id", flat=True))
    missing = [s for s in subscriptions if s.pk not in existing]
    if not missing:
        return []
    payload = alert.build()
    created = []
    for subscription in missing:
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    kind=alert.kind, subject_key=alert.subject_key, period_key=alert.period_key,
                    team_id=alert.team_id, subscription=subscription, channel=subscription.channel,
                    payload=payload)
        except IntegrityError:
            continue  # another run stored it first: that run sends it
        created.append(notification)
        transaction.on_commit(lambda pk=notification.pk: enqueue_by_name(DELIVER_TASK, pk), robust=True)
    return created


def _claim(notification_id: int) -> bool:
    """Take the notification for sending: one conditional update, so two workers never both send it."""
    now = timezone.now()
    claimable = Q(status__in=[NotificationStatus.PENDING, NotificationStatus.FAILED]) | Q(
        status=NotificationStatus.SENDING, claimed_at__lt=now - CLAIM_LEASE)
    return bool(Notification.objects.filter(claimable, pk=notification_id).update(
        status=NotificationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1))


def deliver(notification_id: int) -> str:
    """Send a notification if it still needs sending. Returns its status; raises
    :class:`~channels.DeliveryError` after recording a failed attempt that will be retried."""
    if not _claim(notification_id):
        return Notification.objects.filter(pk=notification_id).values_list("status", flat=True).first() or "missing"
    notification = Notification.objects.select_related("subscription__owner", "team").get(pk=notification_id)
    subscription = notification.subscription
    if subscription.paused and notification.kind != AlertKind.TEST:
        Notification.objects.filter(pk=notification_id).update(status=NotificationStatus.SKIPPED)
        return NotificationStatus.SKIPPED
    try:
        channels.send(notification)
    except channels.DeliveryError as exc:
        _record_failure(notification, str(exc))
        raise
    now = timezone.now()
    Notification.objects.filter(pk=notification_id).update(status=NotificationStatus.SENT, sent_at=now,
                                                           last_error="", next_attempt_at=None)
    Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
    return NotificationStatus.SENT


def _record_failure(notification: Notification, error: str) -> None:
    gave_up = notification.attempts >= max_attempts()
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.GAVE_UP if gave_up else NotificationStatus.FAILED, last_error=error[:2000],
        next_attempt_at=None if gave_up else timezone.now() + retry_delay(notification.attempts))
    Subscription.objects.filter(pk=notification.subscription_id).update(
        consecutive_failures=F("consecutive_failures") + 1)
    logger.warning("Alert delivery %s failed (attempt %s): %s", notification.pk, notification.attempts, error)
    subscription = Subscription.objects.select_related("owner").get(pk=notification.subscription_id)
    if subscription.consecutive_failures >= pause_after_failures() and not subscription.paused:
        pause(subscription, reason=f"{subscription.consecutive_failures} failed deliveries in a row; last: {error}")


def pause(subscription: Subscription, *, reason: str) -> bool:
    """Pause a failing subscription (once) and tell its owner by email (not through the channel
    that is failing)."""
    if not Subscription.objects.filter(pk=subscription.pk, paused=False).update(paused=True,
                                                                               paused_reason=reason[:300]):
        return False
    if subscription.owner.email:
        send_mail(
            subject=header_text(f"[LearningHub] Alert subscription paused: {subscription}"),
            message=(f"Your alert subscription “{subscription}” ({subscription.get_channel_display()}) was paused "
                     f"after repeated delivery failures.\n\n{reason}\n\nResume it on "
                     f"{settings.SITE_URL}/alerts/subscriptions/ once the receiver works again."),
            from_email=None, recipient_list=[subscription.owner.email], fail_silently=True)
    return True


def due_for_retry(now: dt.datetime | None = None) -> list[int]:
    """Notifications a retry should pick up: failed and due, claims of dead workers, and pending
    ones whose delivery was never queued (broker down)."""
    now = now or timezone.now()
    queryset = Notification.objects.filter(
        Q(status=NotificationStatus.FAILED, next_attempt_at__lte=now)
        | Q(status=NotificationStatus.SENDING, claimed_at__lt=now - CLAIM_LEASE)
        | Q(status=NotificationStatus.PENDING, created_at__lt=now - dt.timedelta(minutes=2)))
    return list(queryset.values_list("pk", flat=True)[:500])


# --- Subscriptions -------------------------------------------------------------------------

def _check_subscription(*, owner, team: Team | None, channel: str, target: str, kinds: list[str]) -> None:
    errors: dict[str, list[str]] = {}
    if team is not None:
        try:
            require_lead(owner, team)
        except Exception:
            errors.setdefault("team", []).append("Only a lead of the team can add its channels.")
    if channel in {Channel.SLACK, Channel.TEAMS, Channel.WEBHOOK}:
        try:
            validate_webhook_url(target)
        except ValidationError as exc:
            errors.setdefault("target", []).extend(exc.messages)
    elif channel == Channel.EMAIL and team is not None and not target:
        errors.setdefault("target", []).append("A team's email subscription needs an address (e.g. a list).")
    unknown = [kind for kind in kinds if kind not in AlertKind.values]
    if unknown:
        errors.setdefault("kinds", []).append(f"Unknown alert kinds: {', '.join(unknown)}.")
    if errors:
        raise ValidationError(errors)


def subscription_create(*, owner, team: Team | None = None, channel: str, target: str = "", name: str = "",
                        kinds: list[str] | None = None) -> Subscription:
    kinds = list(kinds or [])
    _check_subscription(owner=owner, team=team, channel=channel, target=target, kinds=kinds)
    return Subscription.objects.create(owner=owner, team=team, channel=channel, target=target.strip(), name=name,
                                       kinds=kinds)


def subscription_update(*, subscription: Subscription, user, **fields) -> Subscription:
    for name in ("name", "channel", "target", "kinds", "paused"):
        if name in fields:
            setattr(subscription, name, fields[name])
    _check_subscription(owner=user, team=subscription.team, channel=subscription.channel,
                        target=subscription.target, kinds=list(subscription.kinds or []))
    if "paused" in fields and not fields["paused"]:
        subscription.consecutive_failures = 0
        subscription.paused_reason = ""
    subscription.save()
    return subscription


def send_test(subscription: Subscription) -> Notification:
    """A test message to one subscription, now (each press is its own notification)."""
    now = timezone.now()
    notification = Notification.objects.create(
        kind=AlertKind.TEST, subject_key=f"subscription:{subscription.pk}", period_key=now.strftime("%Y%m%dT%H%M%S%f"),
        team=subscription.team, subscription=subscription, channel=subscription.channel,
        payload={"title": "Test message from LearningHub",
                 "lines": [f"“{subscription}” is set up: alerts will arrive here."],
                 "url": f"{settings.SITE_URL}/alerts/subscriptions/"})
    transaction.on_commit(lambda: enqueue_by_name(DELIVER_TASK, notification.pk), robust=True)
    return notification


# --- Thresholds ----------------------------------------------------------------------------

def rules_for(team: Team) -> dict[str, AlertRule]:
    """Every rule of a team: its stored row, or the default."""
    stored = {rule.kind: rule for rule in team.alert_rules.all()}
    return {kind: stored.get(kind) or AlertRule.default(team, kind) for kind in RuleKind.values}


def rule_set(*, team: Team, kind: str, user, threshold: float | None = None, enabled: bool | None = None,
             alert_on_rise: bool | None = None) -> AlertRule:
    """A lead sets one rule of their team (out-of-range thresholds are a ValidationError)."""
    require_lead(user, team)
    if kind not in RuleKind.values:
        raise ValidationError({"kind": f"Unknown rule {kind!r}."})
    rule = AlertRule.objects.filter(team=team, kind=kind).first() or AlertRule.default(team, kind)
    if threshold is not None:
        rule.threshold = threshold
    if enabled is not None:
        rule.enabled = enabled
    if alert_on_rise is not None:
        rule.alert_on_rise = alert_on_rise
    if kind == RuleKind.WEEKLY_DIGEST:
        rule.threshold = THRESHOLDS[kind][0]
    rule.full_clean(exclude=["team", "updated_by"])
    rule.updated_by = user_or_none(user)
    rule.save()
    return rule


# --- Calendar feed -------------------------------------------------------------------------

def calendar_feed_for(user) -> CalendarFeed:
    feed, _ = CalendarFeed.objects.get_or_create(user=user, defaults={"secret": CalendarFeed.new_secret()})
    return feed


def calendar_feed_rotate(user) -> CalendarFeed:
    """A new secret: the old feed URL answers 404 from now on."""
    feed = calendar_feed_for(user)
    feed.secret = CalendarFeed.new_secret()
    feed.rotated_at = timezone.now()
    feed.save(update_fields=["secret", "rotated_at"])
    return feed

