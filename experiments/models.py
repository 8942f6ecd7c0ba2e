"""Experiment registry: experiments, the lessons taken from failures, and their later use."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from learninghub.choices import FailureMode, RepeatLinkSource
from learninghub.models import TimeStampedModel


class Outcome(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    PARTIAL = "partial", "Partial"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


class FailureKind(models.TextChoices):
    PRODUCTIVE = "productive", "Productive (the idea was refuted, we learned)"
    WASTEFUL = "wasteful", "Wasteful (avoidable)"
    SYSTEM = "system", "System (the run crashed)"


class ExperimentQuerySet(models.QuerySet):
    def for_team(self, team) -> ExperimentQuerySet:
        return self.filter(team=team)

    def failures(self) -> ExperimentQuerySet:
        return self.filter(outcome=Outcome.FAILURE)

    def started_between(self, start, end) -> ExperimentQuerySet:
        return self.filter(started_at__gte=start, started_at__lt=end)

    def ended_between(self, start, end) -> ExperimentQuerySet:
        return self.filter(ended_at__gte=start, ended_at__lt=end)


class Experiment(TimeStampedModel):
    team = models.ForeignKey("learninghub.Team", on_delete=models.PROTECT, related_name="experiments")
    title = models.CharField(max_length=200)
    hypothesis = models.TextField()
    approach = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Name → number, e.g. {\"ctr\": 0.52}")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.IN_PROGRESS)
    failure_kind = models.CharField(max_length=20, choices=FailureKind.choices, blank=True)
    failure_mode = models.CharField(max_length=20, choices=FailureMode.choices, blank=True)
    is_novel = models.BooleanField(default=False, help_text="A new approach, not an iteration on a known one")
    builds_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="successors")
    repeat_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="repeats")
    repeat_link_source = models.CharField(max_length=20, choices=RepeatLinkSource.choices, blank=True)
    next_steps = models.JSONField(default=list, blank=True)
    external_id = models.CharField(max_length=200, blank=True,
                                   help_text="Tooling's own id for the run; unique per team (upsert key)")
    error_type = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    error_trace = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="experiments_created")
    version = models.PositiveIntegerField(default=1)

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "external_id"], condition=~Q(external_id=""),
                                    name="unique_experiment_external_id_per_team"),
            models.CheckConstraint(condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                                   name="experiment_ends_after_start"),
        ]
        indexes = [
            models.Index(fields=["team", "started_at"]),
            models.Index(fields=["team", "outcome", "ended_at"]),
            models.Index(fields=["outcome", "ended_at"]),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def duration(self):
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def is_failure(self) -> bool:
        return self.outcome == Outcome.FAILURE


class LessonQuerySet(models.QuerySet):
    def documented_between(self, start, end) -> LessonQuerySet:
        return self.filter(documented_at__gte=start, documented_at__lt=end)


class Lesson(TimeStampedModel):
    """One takeaway, from exactly one experiment or one post-mortem."""

    team = models.ForeignKey("learninghub.Team", on_delete=models.PROTECT, related_name="lessons")
    text = models.TextField()
    experiment = models.ForeignKey(Experiment, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="lessons")
    postmortem = models.ForeignKey("postmortems.PostMortem", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="lessons")
    documented_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="lessons_created")
    position = models.PositiveSmallIntegerField(default=0)

    objects = LessonQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(experiment__isnull=False, postmortem__isnull=True)
                           | Q(experiment__isnull=True, postmortem__isnull=False)),
                name="lesson_from_exactly_one_source",
            ),
        ]
        indexes = [models.Index(fields=["team", "documented_at"])]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def source(self):
        return self.experiment or self.postmortem


class LessonApplication(TimeStampedModel):
    """Evidence that a lesson was used later, in an experiment or a post-mortem."""

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="applications")
    experiment = models.ForeignKey(Experiment, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="lesson_applications")
    postmortem = models.ForeignKey("postmortems.PostMortem", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="lesson_applications")
    action_item = models.OneToOneField("postmortems.ActionItem", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="lesson_application",
                                       help_text="The action item whose completion recorded this application")
    applied_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="lesson_applications")

    class Meta:
        ordering = ["-applied_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(experiment__isnull=False, postmortem__isnull=True)
                           | Q(experiment__isnull=True, postmortem__isnull=False)),
                name="application_in_exactly_one_place",
            ),
        ]
        indexes = [models.Index(fields=["lesson", "applied_at"])]

    def __str__(self) -> str:
        return f"{self.lesson} applied in {self.experiment or self.postmortem}"
