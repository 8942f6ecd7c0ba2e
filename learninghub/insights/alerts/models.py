"""Alert rules (thresholds a lead sets per team), subscriptions (where alerts go) and the stored
notifications (one per rule kind, subject, period and subscription: the idempotency key).

DESIGN.md, "Alerts, digests and integrations".
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from learninghub.kernel.policy import is_privileged, lead_team_ids_for


class RuleKind(models.TextChoices):
    """What a lead configures per team."""

    REPEAT_RATE = "repeat_rate", "Repeat-failure rate above a threshold (or rising two months running)"
    OVERDUE = "overdue", "Action items overdue (owner daily; leads after N days)"
    REVIEW_WAITING = "review_waiting", "Suspected repeats waiting for review more than N days"
    SYSTEM_BURST = "system_burst", "Burst of crashed runs (system failures) in a day"
    AWARD_DEADLINE = "award_deadline", "Award cycle deadlines (N days before)"
    WEEKLY_DIGEST = "weekly_digest", "Weekly team digest"


class AlertKind(models.TextChoices):
    """What a notification is about (a subscription chooses among these)."""

    REPEAT_RATE = "repeat_rate", "Repeat-failure rate above threshold"
    REPEAT_RISING = "repeat_rising", "Repeat-failure rate rising two months running"
    OVERDUE_REMINDER = "overdue_reminder", "Overdue action item (reminder to its owner)"
    OVERDUE_ESCALATION = "overdue_escalation", "Overdue action item (escalated to leads)"
    REVIEW_WAITING = "review_waiting", "Suspected repeat waiting for review"
    SYSTEM_BURST = "system_burst", "Burst of crashed runs"
    NOMINATIONS_CLOSING = "nominations_closing", "Award nominations closing"
    VOTING_CLOSING = "voting_closing", "Award voting closing (to those who have not voted)"
    WEEKLY_DIGEST = "weekly_digest", "Weekly team digest"
    TEST = "test", "Test message"


#: Per rule: (default threshold, minimum, maximum, what the number means).
THRESHOLDS: dict[str, tuple[float, float, float, str]] = {
    RuleKind.REPEAT_RATE: (0.3, 0.01, 1.0, "repeat-failure rate (0–1) at or above which the team is alerted"),
    RuleKind.OVERDUE: (3, 1, 90, "days overdue after which the team's leads are alerted"),
    RuleKind.REVIEW_WAITING: (7, 1, 90, "days a suspected repeat may wait for review"),
    RuleKind.SYSTEM_BURST: (3, 1, 1000, "crashed runs in one UTC day"),
    RuleKind.AWARD_DEADLINE: (2, 0, 14, "days before a deadline to remind"),
    RuleKind.WEEKLY_DIGEST: (0, 0, 0, "no threshold"),
}


class AlertRule(models.Model):
    """One rule's threshold for one team. A team with no row for a rule uses the default (enabled)."""

    team = models.ForeignKey("learninghub.Team", on_delete=models.CASCADE, related_name="alert_rules")
    kind = models.CharField(max_length=30, choices=RuleKind.choices)
    enabled = models.BooleanField(default=True)
    threshold = models.FloatField()
    alert_on_rise = models.BooleanField(default=True, help_text="Repeat rate only: also alert when it rose "
                                                                "two months running")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "kind"]
        constraints = [models.UniqueConstraint(fields=["team", "kind"], name="unique_alert_rule_per_team")]

    def __str__(self) -> str:
        return f"{self.team}: {self.get_kind_display()} ({self.threshold:g})"

    @classmethod
    def default(cls, team, kind: str) -> AlertRule:
        return cls(team=team, kind=kind, threshold=THRESHOLDS[kind][0])

    def clean(self) -> None:
        _default, low, high, meaning = THRESHOLDS[self.kind]
        if self.threshold is None or not low <= self.threshold <= high:
            raise ValidationError({"threshold": f"Enter a number from {low:g} to {high:g} ({meaning})."})
        if self.kind != RuleKind.REPEAT_RATE and self.threshold != int(self.threshold):
            raise ValidationError({"threshold": "Enter a whole number."})


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack-compatible incoming webhook"
    TEAMS = "teams", "Microsoft Teams webhook"
    WEBHOOK = "webhook", "Generic JSON webhook (signed)"


WEBHOOK_CHANNELS = (Channel.SLACK, Channel.TEAMS, Channel.WEBHOOK)


class SubscriptionQuerySet(models.QuerySet):
    def active(self) -> SubscriptionQuerySet:
        return self.filter(paused=False)

    def visible_to(self, user) -> SubscriptionQuerySet:
        """A person's own subscriptions, and those of the teams they lead (staff: all)."""
        if not user.is_authenticated:
            return self.none()
        if is_privileged(user):
            return self
        return self.filter(Q(owner=user) | Q(team_id__in=lead_team_ids_for(user)))


class Subscription(models.Model):
    """Where alerts go: a person's (``team`` empty) or a team's (``team`` set: a channel of that team).

    ``owner`` created it and is told when it is paused after repeated failures. ``kinds`` lists
    the alert kinds wanted (empty: all). A person's ``is_default`` email subscription is created
    on demand, for alerts addressed to them (escalations, voting reminders) when they have none.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions")
    team = models.ForeignKey("learninghub.Team", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="alert_subscriptions", help_text="Empty: a personal subscription")
    name = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    target = models.CharField(max_length=500, blank=True,
                              help_text="Webhook URL, or an email address (empty: the owner's address)")
    secret = models.CharField(max_length=100, blank=True, help_text="HMAC key of the generic webhook")
    kinds = models.JSONField(default=list, blank=True, help_text="Alert kinds wanted; empty: all")
    is_default = models.BooleanField(default=False, editable=False)
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["team__name", "channel", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner"], condition=Q(is_default=True),
                                    name="one_default_subscription_per_person"),
        ]

    def __str__(self) -> str:
        scope = self.team.name if self.team_id else f"{self.owner}"
        return f"{self.name or self.get_channel_display()} ({scope})"

    def save(self, *args, **kwargs) -> None:
        if self.channel == Channel.WEBHOOK and not self.secret:
            self.secret = secrets.token_hex(24)
        super().save(*args, **kwargs)

    def wants(self, kind: str) -> bool:
        return kind == AlertKind.TEST or not self.kinds or kind in self.kinds

    @property
    def email_address(self) -> str:
        return self.target or self.owner.email


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will retry)"
    GAVE_UP = "gave_up", "Failed (gave up)"
    SKIPPED = "skipped", "Skipped (subscription paused)"


class Notification(models.Model):
    """One alert to one subscription. The unique key makes sending idempotent: evaluating a rule
    twice (beat running twice, a retried task) finds the row instead of making a second one."""

    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    subject_key = models.CharField(max_length=100, help_text="What it is about, e.g. action_item:42")
    period_key = models.CharField(max_length=30, help_text="When: a month, a day, a week or 'once'")
    team = models.ForeignKey("learninghub.Team", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="notifications")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject_key", "period_key", "subscription"],
                                    name="one_notification_per_rule_subject_period_subscription"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.subject_key} · {self.period_key} → {self.subscription}"

    @property
    def title(self) -> str:
        return self.payload.get("title", "")


class CalendarFeed(models.Model):
    """The secret in a person's iCalendar feed URL of their action items; rotating it revokes the old URL."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    secret = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"

    @staticmethod
    def new_secret() -> str:
        return secrets.token_urlsafe(32)
