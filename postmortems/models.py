"""Blameless post-mortems and the action items they produce."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from learninghub.kernel.choices import FailureMode, RepeatLinkSource
from learninghub.kernel.models import TimeStampedModel
from learninghub.kernel.policy import can_write, restricted_postmortem_q


class Severity(models.TextChoices):
    SEV1 = "sev1", "SEV1 (critical)"
    SEV2 = "sev2", "SEV2 (major)"
    SEV3 = "sev3", "SEV3 (minor)"
    SEV4 = "sev4", "SEV4 (low)"


class PostMortemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class PostMortemQuerySet(models.QuerySet):
    def visible_to(self, user) -> PostMortemQuerySet:
        """Everything but restricted post-mortems of teams ``user`` is not a member of."""
        return self.filter(restricted_postmortem_q(user))

    def published(self) -> PostMortemQuerySet:
        return self.filter(status=PostMortemStatus.PUBLISHED)


class PostMortem(TimeStampedModel):
    team = models.ForeignKey("learninghub.Team", on_delete=models.PROTECT, related_name="postmortems")
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.SEV3)
    occurred_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    production_impact = models.BooleanField(default=False)
    what_happened = models.TextField(blank=True, help_text="Markdown")
    root_cause = models.TextField(blank=True, help_text="Markdown")
    what_went_well = models.TextField(blank=True, help_text="Markdown")
    failure_mode = models.CharField(max_length=20, choices=FailureMode.choices, blank=True)
    experiment = models.ForeignKey("experiments.Experiment", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="postmortems")
    repeat_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="repeats")
    repeat_link_source = models.CharField(max_length=20, choices=RepeatLinkSource.choices, blank=True)
    status = models.CharField(max_length=20, choices=PostMortemStatus.choices, default=PostMortemStatus.DRAFT)
    restricted = models.BooleanField(default=False, help_text="Visible only to the team's members")
    authors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="postmortems_authored")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="postmortems_created")
    version = models.PositiveIntegerField(default=1)

    objects = PostMortemQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(detected_at__isnull=True) | Q(occurred_at__isnull=True)
                | Q(detected_at__gte=models.F("occurred_at")),
                name="postmortem_detected_after_occurred",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(detected_at__isnull=True)
                | Q(resolved_at__gte=models.F("detected_at")),
                name="postmortem_resolved_after_detected",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "occurred_at"]),
            models.Index(fields=["team", "resolved_at"]),
            # The organisation's month of recoveries (median and p90 over every team's post-mortems).
            models.Index(fields=["resolved_at"], include=["detected_at"], name="postmortem_resolved_covering"),
            models.Index(fields=["-occurred_at", "-id"], name="postmortem_newest_first"),
            # The few restricted ones: what the lists count as hidden from a viewer, by team.
            models.Index(fields=["team"], condition=Q(restricted=True), name="postmortem_restricted_team"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("postmortems:detail", args=[self.pk])

    @property
    def time_to_detect(self) -> dt.timedelta | None:
        if self.occurred_at and self.detected_at:
            return self.detected_at - self.occurred_at
        return None

    @property
    def time_to_resolve(self) -> dt.timedelta | None:
        if self.detected_at and self.resolved_at:
            return self.resolved_at - self.detected_at
        return None

    @property
    def total_duration(self) -> dt.timedelta | None:
        if self.occurred_at and self.resolved_at:
            return self.resolved_at - self.occurred_at
        return None

    @property
    def is_published(self) -> bool:
        return self.status == PostMortemStatus.PUBLISHED


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


UNFINISHED_STATUSES = [ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS]


def unfinished_first() -> models.Case:
    """0 for an unfinished action item, 1 for a finished one: the lists' first sort key.

    Unfinished items by due date are overdue ones first (their due dates are the earlier
    ones), then the rest, undated last, so (this, due date, id) is the lists' urgency order.
    Unlike "overdue" it does not depend on today, so it is an index expression and the lists
    read their page straight from the index instead of sorting every item."""
    return models.Case(models.When(status__in=UNFINISHED_STATUSES, then=models.Value(0)), default=models.Value(1),
                       output_field=models.IntegerField())


class ActionItemQuerySet(models.QuerySet):
    def visible_to(self, user) -> ActionItemQuerySet:
        """Action items of the post-mortems ``user`` may see."""
        return self.filter(restricted_postmortem_q(user, "postmortem__"))

    def unfinished(self) -> ActionItemQuerySet:
        return self.filter(status__in=UNFINISHED_STATUSES)

    def by_urgency(self) -> ActionItemQuerySet:
        """Overdue first, then open by due date (undated last), then finished ones (by the
        ``action_item_urgency`` index)."""
        return self.order_by(unfinished_first(), models.F("due_date").asc(nulls_last=True), "id")

    def overdue(self, today) -> ActionItemQuerySet:
        return self.unfinished().filter(due_date__lt=today)


class ActionItem(TimeStampedModel):
    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="action_items")
    description = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="action_items")
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)
    lesson = models.ForeignKey("experiments.Lesson", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="implementing_action_items",
                               help_text="The lesson this action item puts into practice")
    position = models.PositiveSmallIntegerField(default=0)
    last_reminded_on = models.DateField(null=True, blank=True,
                                        help_text="Day of the last overdue reminder (one a day at most)")

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            models.Index(fields=["owner", "status"]),
            # Due in a month, by team: the metrics engine's action-item counts read only this index
            # (the team comes from the post-mortem); also the lists' due-date filters.
            models.Index(fields=["due_date"], include=["id", "postmortem", "status", "completed_at"],
                         name="action_item_due_covering"),
            # due_date ascending: NULLS LAST on PostgreSQL, as ``by_urgency`` sorts (SQLite
            # can't say it in an index).
            models.Index(unfinished_first(), "due_date", "id", name="action_item_urgency"),
        ]

    def __str__(self) -> str:
        return self.description[:80]

    def may_be_changed_by(self, user) -> bool:
        """Its owner may change an action item's status, besides the team's writers (the policy)."""
        return bool(user.is_authenticated and (self.owner_id == user.pk or can_write(user, self.postmortem.team_id)))

    def get_absolute_url(self) -> str:
        return f"{self.postmortem.get_absolute_url()}#action-item-{self.pk}"

    @property
    def is_unfinished(self) -> bool:
        return self.status in (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)

    @property
    def is_overdue(self) -> bool:
        return bool(self.is_unfinished and self.due_date and self.due_date < timezone.localdate())

    @property
    def team_id(self) -> int:
        return self.postmortem.team_id
