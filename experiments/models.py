"""Experiment registry: experiments, the lessons taken from failures, and their later use."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from learninghub.kernel.choices import FailureMode, RepeatLinkSource
from learninghub.kernel.models import TimeStampedModel
from learninghub.kernel.policy import is_privileged, restricted_postmortem_q, team_ids_for


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

    def search(self, text: str) -> ExperimentQuerySet:
        """Every word must appear in the title, hypothesis, approach or one of the lessons (the
        fallback when no search engine is registered, see ``learninghub.kernel.search``).

        Each word is a ``pk IN (own fields UNION lessons)``: two separate matches the planner
        can run on their own, not one ``OR`` with an ``EXISTS`` that rules out every index."""
        queryset = self
        for word in text.split():
            own = Experiment.objects.filter(
                Q(title__icontains=word) | Q(hypothesis__icontains=word) | Q(approach__icontains=word)
            ).order_by().values("pk")
            from_lessons = (Lesson.objects.filter(experiment__isnull=False, text__icontains=word).order_by()
                            .values("experiment_id"))
            queryset = queryset.filter(pk__in=own.union(from_lessons))
        return queryset

    def with_list_data(self) -> ExperimentQuerySet:
        """What list pages and the API need, in a fixed number of queries whatever the page size.

        The lesson count is a correlated subquery, run for the rows of the page only (a join
        with ``COUNT`` would group every matching row before the page is cut)."""
        lessons = (Lesson.objects.filter(experiment=OuterRef("pk")).order_by().values("experiment")
                   .annotate(n=models.Count("pk")).values("n"))
        return self.select_related("team", "created_by", "builds_on", "repeat_of").annotate(
            lesson_count=Coalesce(Subquery(lessons, output_field=models.IntegerField()), Value(0)),
        ).order_by("-started_at", "-id")


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
    time_to_failure = models.DurationField(
        null=True, blank=True,
        help_text="How long the run took to reach its failure verdict (a crash, or the failure detector "
                  "stopping it), as measured by the tooling; the Fast Fail Award's evidence")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="experiments_created")
    version = models.PositiveIntegerField(default=1)

    # Fields a failure may carry and a success may not.
    FAILURE_FIELDS = ("failure_kind", "failure_mode", "error_type", "error_message", "error_trace", "repeat_of",
                      "time_to_failure")
    MAX_METRIC_NAME_LENGTH = 100
    MAX_LINEAGE_DEPTH = 500
    # Caps on the nested collections (a request with 10,000 of them must be a 400, not a dead worker).
    MAX_METRICS = 100
    MAX_NEXT_STEPS = 50
    MAX_LESSONS = 50
    MAX_APPLIED_LESSONS = 100

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
            # The list's order (and keyset for deep pages); the date filters range over these.
            models.Index(fields=["-started_at", "-id"], name="experiment_newest_first"),
            models.Index(fields=["ended_at"], name="experiment_ended_at"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("experiments:detail", args=[self.pk])

    @property
    def duration(self):
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def time_to_verdict(self):
        """Time from start to the failure verdict: measured by the tooling when it reported it,
        else the recorded duration (None for anything but a concluded failure)."""
        if not self.is_failure:
            return None
        return self.time_to_failure if self.time_to_failure is not None else self.duration

    @property
    def is_failure(self) -> bool:
        return self.outcome == Outcome.FAILURE

    @property
    def crashed(self) -> bool:
        return bool(self.error_type or self.error_trace)

    def clean(self) -> None:
        """The registry's rules; every error is attached to the field it concerns."""
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        if self.ended_at and self.started_at and self.ended_at < self.started_at:
            add("ended_at", "An experiment cannot end before it started.")
        if self.outcome == Outcome.IN_PROGRESS and self.ended_at:
            add("ended_at", "An experiment still in progress has no end yet: choose its outcome or clear the end.")
        for message in metrics_errors(self.metrics):
            add("metrics", message)
        for message in next_steps_errors(self.next_steps):
            add("next_steps", message)

        if self.time_to_failure is not None and self.time_to_failure.total_seconds() < 0:
            add("time_to_failure", "The time to a failure verdict cannot be negative.")
        if self.failure_kind and self.outcome != Outcome.FAILURE:
            add("failure_kind", "Only a failure has a failure kind (productive, wasteful or system).")
        if self.outcome == Outcome.SUCCESS:
            for field in self.FAILURE_FIELDS:
                if field == "failure_kind":
                    continue
                value = self.repeat_of_id if field == "repeat_of" else getattr(self, field)
                if value:
                    add(field, f"A successful experiment has no {self._meta.get_field(field).verbose_name}.")

        if self.builds_on_id is not None:
            if self.pk is not None and self.builds_on_id == self.pk:
                add("builds_on", "An experiment cannot build on itself.")
            elif self.pk is not None and self._builds_on_forms_cycle():
                add("builds_on", "This would make a cycle: that experiment already builds on this one.")
        if self.repeat_of_id is not None and "repeat_of" not in errors:
            if self.pk is not None and self.repeat_of_id == self.pk:
                add("repeat_of", "An experiment cannot repeat itself.")
            else:
                target = Experiment.objects.filter(pk=self.repeat_of_id).values("outcome", "started_at").first()
                if target is None:
                    add("repeat_of", "That experiment does not exist.")
                elif target["outcome"] != Outcome.FAILURE:
                    add("repeat_of", "A repeat points at an earlier failed experiment; that one did not fail.")
                elif self.started_at and target["started_at"] > self.started_at:
                    add("repeat_of", "A repeat points at an earlier experiment; that one started later.")

        if self.external_id and self.team_id:
            clash = Experiment.objects.filter(team_id=self.team_id, external_id=self.external_id)
            if self.pk is not None:
                clash = clash.exclude(pk=self.pk)
            if clash.exists():
                add("external_id", "This team already has an experiment with this external id.")
        if errors:
            raise ValidationError(errors)

    def _builds_on_forms_cycle(self) -> bool:
        """Walk ``builds_on`` upwards from the new parent; meeting this experiment means a cycle."""
        current = self.builds_on_id
        seen: set[int] = set()
        for _step in range(self.MAX_LINEAGE_DEPTH):
            if current is None:
                return False
            if current == self.pk or current in seen:
                return True
            seen.add(current)
            current = Experiment.objects.filter(pk=current).values_list("builds_on_id", flat=True).first()
        return True


def metrics_errors(metrics) -> list[str]:
    """Why ``metrics`` is not an object of name → finite number (empty when it is)."""
    if not isinstance(metrics, dict):
        return ["Metrics must be an object of name → number, e.g. {\"ctr\": 0.52}."]
    if len(metrics) > Experiment.MAX_METRICS:
        return [f"At most {Experiment.MAX_METRICS} metrics."]
    errors = []
    for name, value in metrics.items():
        if not isinstance(name, str) or not name.strip():
            errors.append("Every metric needs a name.")
        elif len(name) > Experiment.MAX_METRIC_NAME_LENGTH:
            errors.append(f"Metric name “{name[:20]}…” is longer than {Experiment.MAX_METRIC_NAME_LENGTH} characters.")
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"Metric “{name}” must be a number, not {value!r}.")
        elif not math.isfinite(value):
            errors.append(f"Metric “{name}” must be a finite number.")
    return errors


def next_steps_errors(next_steps) -> list[str]:
    if not isinstance(next_steps, list) or not all(isinstance(step, str) for step in next_steps):
        return ["Next steps must be a list of texts."]
    if len(next_steps) > Experiment.MAX_NEXT_STEPS:
        return [f"At most {Experiment.MAX_NEXT_STEPS} next steps."]
    if any(not step.strip() for step in next_steps):
        return ["A next step cannot be empty."]
    return []


class LessonQuerySet(models.QuerySet):
    def documented_between(self, start, end) -> LessonQuerySet:
        return self.filter(documented_at__gte=start, documented_at__lt=end)

    def visible_to(self, user) -> LessonQuerySet:
        """Hidden when learned in a restricted post-mortem the user may not see."""
        return self.filter(restricted_postmortem_q(user, "postmortem__"))

    def search(self, text: str) -> LessonQuerySet:
        queryset = self
        for word in text.split():
            queryset = queryset.filter(text__icontains=word)
        return queryset


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
        indexes = [
            models.Index(fields=["team", "documented_at"]),
            models.Index(fields=["-documented_at", "-id"], name="lesson_newest_first"),
        ]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def source(self):
        return self.experiment or self.postmortem

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if (self.experiment_id is None) == (self.postmortem_id is None):
            errors["experiment"] = ["A lesson comes from exactly one experiment or one post-mortem."]
        elif self.team_id is not None:
            source_team_id = self.experiment.team_id if self.experiment_id else self.postmortem.team_id
            if source_team_id != self.team_id:
                errors["team"] = ["A lesson belongs to the team of the record it was learned from."]
        if not (self.text or "").strip():
            errors["text"] = ["A lesson needs some text."]
        if errors:
            raise ValidationError(errors)


class LessonApplicationQuerySet(models.QuerySet):
    def visible_to(self, user) -> LessonApplicationQuerySet:
        """Hidden when either the place it was applied or the lesson's source is a restricted
        post-mortem the user may not see (the lesson's text would leak otherwise)."""
        return self.filter(restricted_postmortem_q(user, "postmortem__"),
                           restricted_postmortem_q(user, "lesson__postmortem__"))


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

    objects = LessonApplicationQuerySet.as_manager()

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

    @property
    def place(self):
        return self.experiment or self.postmortem

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if (self.experiment_id is None) == (self.postmortem_id is None):
            errors["experiment"] = ["A lesson is applied in exactly one experiment or one post-mortem."]
        elif self.lesson_id is not None:
            lesson = self.lesson
            if (self.experiment_id and self.experiment_id == lesson.experiment_id) or (
                self.postmortem_id and self.postmortem_id == lesson.postmortem_id
            ):
                field = "experiment" if self.experiment_id else "postmortem"
                errors[field] = ["A lesson cannot be applied in the record it was learned from."]
            if self.applied_at and lesson.documented_at and self.applied_at < lesson.documented_at:
                errors["applied_at"] = ["A lesson cannot be applied before it was documented "
                                        f"({lesson.documented_at:%Y-%m-%d %H:%M})."]
        if errors:
            raise ValidationError(errors)


def validate_tracking_uri(value: str) -> None:
    """An http(s) URL with a host; single-label hosts (``http://mlflow:5000``) are fine."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError("Give the tracking server's http(s) URL, e.g. http://mlflow:5000.")


class MlflowMappingQuerySet(models.QuerySet):
    def visible_to(self, user) -> MlflowMappingQuerySet:
        """A tracking server's address is the team's business: its members and staff see it."""
        if is_privileged(user):
            return self
        return self.filter(team_id__in=team_ids_for(user))


class MlflowMapping(TimeStampedModel):
    """A team's MLflow experiment, imported into its registry by the periodic sync.

    ``cursor_start_time`` is the resume point (MLflow start time, ms since the epoch): every run
    that started before it was finished when last seen and is imported, so a sync only searches
    runs from there on. It only moves after a whole page of runs has been handled."""

    team = models.ForeignKey("learninghub.Team", on_delete=models.CASCADE, related_name="mlflow_mappings")
    tracking_uri = models.CharField(max_length=500, validators=[validate_tracking_uri],
                                    help_text="The MLflow tracking server, e.g. http://mlflow:5000")
    experiment_name = models.CharField(max_length=500, help_text="The MLflow experiment's name")
    enabled = models.BooleanField(default=True, help_text="Synced periodically")
    detect_repeats = models.BooleanField(default=True, help_text="Compare synced failures with earlier ones")
    cursor_start_time = models.BigIntegerField(null=True, blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_result = models.TextField(blank=True, editable=False, help_text="What the last sync did, or why it failed")

    objects = MlflowMappingQuerySet.as_manager()

    class Meta:
        ordering = ["team__name", "experiment_name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "tracking_uri", "experiment_name"],
                                    name="unique_mlflow_mapping_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment_name} @ {self.tracking_uri} → {self.team}"


class MlflowRun(models.Model):
    """The link between an MLflow run and the experiment imported from it.

    ``fingerprint`` is a hash of what the run mapped to, so a run that did not change is not
    written again; ``synced_version`` is the experiment's version after the sync wrote it: a
    higher version means a person edited it here, and the sync then reports, not overwrites."""

    mapping = models.ForeignKey(MlflowMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    experiment = models.OneToOneField(Experiment, on_delete=models.CASCADE, related_name="mlflow_run")
    run_id = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    synced_version = models.PositiveIntegerField()
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["run_id"])]

    def __str__(self) -> str:
        return self.run_id
