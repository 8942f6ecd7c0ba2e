"""Suspected repeat failures: what the detector found, and what people decided about it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class FailureType(models.TextChoices):
    EXPERIMENT = "experiment", "Experiment"
    POSTMORTEM = "postmortem", "Post-mortem"


class Method(models.TextChoices):
    SIMILARITY = "similarity", "Text similarity"
    RULE = "rule", "Rule (same team, failure mode and root-cause words)"


class CandidateStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    CONFIRMED = "confirmed", "Confirmed by a lead"
    REJECTED = "rejected", "Rejected by a lead"
    AUTO_LINKED = "auto_linked", "Linked automatically"
    UNDONE = "undone", "Automatic link undone"


class RepeatCandidateQuerySet(models.QuerySet):
    def for_team(self, team_id: int | None) -> RepeatCandidateQuerySet:
        return self if team_id is None else self.filter(team_id=team_id)


class RepeatCandidate(models.Model):
    """A later failure that may repeat an earlier one of the same team.

    The earlier failure may be of the other kind (a post-mortem repeating a failed experiment's
    cause, or the reverse); ``matched_terms`` are the words that made them match, shown in the
    review queue as "why it matched".
    """

    team = models.ForeignKey("learninghub.Team", on_delete=models.CASCADE, related_name="repeat_candidates")
    failure_type = models.CharField(max_length=20, choices=FailureType.choices)
    experiment = models.ForeignKey("experiments.Experiment", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+")
    earlier_experiment = models.ForeignKey("experiments.Experiment", null=True, blank=True,
                                           on_delete=models.CASCADE, related_name="+")
    postmortem = models.ForeignKey("postmortems.PostMortem", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+")
    earlier_postmortem = models.ForeignKey("postmortems.PostMortem", null=True, blank=True,
                                           on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(help_text="Similarity 0–1 (for the rule: share of shared root-cause words)")
    method = models.CharField(max_length=20, choices=Method.choices)
    matched_terms = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=CandidateStatus.choices, default=CandidateStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="repeat_decisions")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RepeatCandidateQuerySet.as_manager()

    class Meta:
        ordering = ["-score", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["experiment"], condition=Q(experiment__isnull=False),
                                    name="one_repeat_candidate_per_experiment"),
            models.UniqueConstraint(fields=["postmortem"], condition=Q(postmortem__isnull=False),
                                    name="one_repeat_candidate_per_postmortem"),
            models.CheckConstraint(
                condition=((Q(failure_type="experiment", experiment__isnull=False, postmortem__isnull=True)
                            | Q(failure_type="postmortem", postmortem__isnull=False, experiment__isnull=True))
                           & (Q(earlier_experiment__isnull=False, earlier_postmortem__isnull=True)
                              | Q(earlier_experiment__isnull=True, earlier_postmortem__isnull=False))),
                name="repeat_candidate_one_failure_one_earlier",
            ),
        ]
        indexes = [models.Index(fields=["team", "status"])]

    def __str__(self) -> str:
        return f"{self.failure} may repeat {self.earlier} ({self.score:.2f}, {self.method})"

    @property
    def failure(self):
        return self.experiment or self.postmortem

    @property
    def earlier(self):
        return self.earlier_experiment or self.earlier_postmortem

    @property
    def earlier_type(self) -> str:
        return FailureType.EXPERIMENT if self.earlier_experiment_id else FailureType.POSTMORTEM

    @property
    def is_cross_kind(self) -> bool:
        """The earlier failure is of the other kind, so ``repeat_of`` (same kind) cannot point at it."""
        return self.earlier_type != self.failure_type


class RepeatDecision(models.Model):
    """The audit trail: every automatic link, confirmation, rejection and undo."""

    candidate = models.ForeignKey(RepeatCandidate, on_delete=models.CASCADE, related_name="decisions")
    from_status = models.CharField(max_length=20, choices=CandidateStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=CandidateStatus.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"
