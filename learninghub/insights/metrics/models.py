"""Stored learning metrics: one snapshot per team per month, and one per month for the organisation.

The exact definitions live in ``learninghub.insights.metrics.engine`` (and DESIGN.md). A snapshot also
keeps the counts behind every ratio, so pages can say "3 of 12 failures were repeats" and link
to those records.

Staleness is tracked with two counters instead of clocks (web and worker clocks may differ):
a write bumps ``dirty_version``; a computation stores the ``dirty_version`` it saw when it
started in ``computed_version``. A snapshot is fresh when both are equal. ``computed_by`` names
the computation that produced the stored figures (pages say which one).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from learninghub.kernel.periods import Month


class Computation(models.TextChoices):
    """Which computation produced a snapshot's figures; the label completes "computed … by"."""

    SCHEDULED = "scheduled", "the scheduled nightly recomputation"
    EDIT = "edit", "the recomputation after an edit"
    LIVE = "live", "a live computation for a page"
    MANUAL = "manual", "a recomputation run by hand (command, API or setup)"


#: A snapshot to recompute: never computed, or marked by a write since (``is_stale`` in Python).
STALE = Q(computed_at__isnull=True) | Q(dirty_version__gt=F("computed_version"))


class MetricSnapshotQuerySet(models.QuerySet):
    def for_team(self, team) -> MetricSnapshotQuerySet:
        return self.filter(team=team)

    def organisation(self) -> MetricSnapshotQuerySet:
        return self.filter(team__isnull=True)

    def between(self, first: Month, last: Month) -> MetricSnapshotQuerySet:
        """Months ``first`` to ``last`` inclusive."""
        return self.filter(month__gte=Month.of(first).first_day, month__lte=Month.of(last).first_day)

    def stale(self) -> MetricSnapshotQuerySet:
        return self.filter(STALE)


class MetricSnapshot(models.Model):
    """The learning metrics of one team (or, with ``team`` empty, the organisation) for one UTC
    calendar month, with the counts behind every ratio."""

    team = models.ForeignKey("learninghub.Team", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="metric_snapshots", help_text="Empty: the whole organisation")
    month = models.DateField(help_text="First day of the month (UTC)")

    # Experiments started in the month.
    experiments_started = models.PositiveIntegerField(default=0)
    experiments_novel = models.PositiveIntegerField(default=0)
    experiment_velocity = models.FloatField(default=0.0, help_text="Experiments started per week")
    innovation_index = models.FloatField(null=True, blank=True, help_text="Share of started experiments that are novel")

    # Failures in the month: experiments that failed (ended in the month) plus post-mortems (occurred in it).
    failures = models.PositiveIntegerField(default=0)
    experiment_failures = models.PositiveIntegerField(default=0)
    postmortem_failures = models.PositiveIntegerField(default=0)
    repeat_failures = models.PositiveIntegerField(default=0)
    experiment_repeat_failures = models.PositiveIntegerField(default=0)
    postmortem_repeat_failures = models.PositiveIntegerField(default=0)
    repeat_failure_rate = models.FloatField(null=True, blank=True)
    failures_by_mode = models.JSONField(default=dict, blank=True,
                                        help_text="Failure mode → failures (experiments and post-mortems)")
    experiment_failures_by_mode = models.JSONField(default=dict, blank=True,
                                                   help_text="Failure mode → failed experiments")
    failures_by_kind = models.JSONField(default=dict, blank=True,
                                        help_text="Failure kind → failed experiments (post-mortems have no kind)")

    # Lessons documented in the 365 days before the month's end, and those applied before that end.
    lessons_in_window = models.PositiveIntegerField(default=0)
    lessons_applied = models.PositiveIntegerField(default=0)
    lesson_application_rate = models.FloatField(null=True, blank=True)

    # Post-mortems resolved in the month.
    postmortems_resolved = models.PositiveIntegerField(default=0)
    recovery_time_samples = models.PositiveIntegerField(default=0,
                                                        help_text="Resolved post-mortems with a detection time")
    failure_recovery_time = models.FloatField(null=True, blank=True,
                                              help_text="Mean hours from detection to resolution")
    failure_recovery_time_median = models.FloatField(null=True, blank=True)
    failure_recovery_time_p90 = models.FloatField(null=True, blank=True)
    time_to_detect_samples = models.PositiveIntegerField(default=0)
    time_to_detect = models.FloatField(null=True, blank=True, help_text="Mean hours from occurrence to detection")
    # The sums behind both means: the organisation's means are re-derived from its teams' sums.
    recovery_hours_total = models.FloatField(default=0.0, help_text="Sum of the recovery samples, in hours")
    time_to_detect_hours_total = models.FloatField(default=0.0, help_text="Sum of the detection samples, in hours")

    # Action items due in the month.
    action_items_due = models.PositiveIntegerField(default=0)
    action_items_done = models.PositiveIntegerField(default=0)
    action_items_done_on_time = models.PositiveIntegerField(default=0)
    action_items_open = models.PositiveIntegerField(default=0, help_text="Status open")
    action_items_in_progress = models.PositiveIntegerField(default=0, help_text="Status in progress")
    action_items_overdue = models.PositiveIntegerField(default=0, help_text="Unfinished and past their due date")
    action_items_wont_do = models.PositiveIntegerField(default=0)
    action_item_completion_rate = models.FloatField(null=True, blank=True)

    learning_efficiency_score = models.FloatField(null=True, blank=True)

    computed_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never computed yet")
    computed_by = models.CharField(max_length=16, choices=Computation.choices, blank=True,
                                   help_text="The computation that produced these figures (empty: never computed)")
    dirty_version = models.PositiveBigIntegerField(default=0, help_text="Bumped whenever underlying records change")
    computed_version = models.PositiveBigIntegerField(default=0,
                                                      help_text="The dirty version the stored figures reflect")

    objects = MetricSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["month", "team_id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "month"], condition=Q(team__isnull=False),
                                    name="unique_team_metric_snapshot"),
            models.UniqueConstraint(fields=["month"], condition=Q(team__isnull=True),
                                    name="unique_organisation_metric_snapshot"),
        ]

    def __str__(self) -> str:
        return f"{self.team or 'Organisation'} · {self.month:%Y-%m}"

    @property
    def is_stale(self) -> bool:
        return self.computed_at is None or self.dirty_version > self.computed_version

    @property
    def computed_by_label(self) -> str:
        return self.get_computed_by_display() if self.computed_by else ""

    @property
    def period(self) -> Month:
        """The month as a :class:`Month` (``month`` stores its first day)."""
        return Month.of(self.month)

    @property
    def has_records(self) -> bool:
        """Was anything recorded in the month itself? Lessons count over a 365-day window, so
        they alone don't make a month worth comparing with another."""
        return bool(self.experiments_started or self.failures or self.postmortems_resolved or self.action_items_due)

    @property
    def postmortem_failures_by_mode(self) -> dict[str, int]:
        experiment = self.experiment_failures_by_mode or {}
        return {mode: count - experiment.get(mode, 0) for mode, count in (self.failures_by_mode or {}).items()
                if count - experiment.get(mode, 0) > 0}

    @property
    def action_items_done_late(self) -> int:
        return self.action_items_done - self.action_items_done_on_time

    @property
    def action_items_unfinished(self) -> int:
        return self.action_items_open + self.action_items_in_progress
