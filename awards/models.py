"""Monthly awards: categories, one cycle per calendar month, nominations, secret votes, winners.

The rules that must hold even under concurrent requests are database constraints (one vote per
voter per category per cycle, no self-nomination, no self-vote, one cycle per month); the rest
live in ``awards.services`` so that pages and the API enforce them identically.
"""

from __future__ import annotations

import datetime as dt
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from learninghub.kernel.models import TimeStampedModel
from learninghub.kernel.periods import Month


def cycle_deadlines(month: date, close_day: int | None = None) -> tuple[date, date]:
    """(nominations close on, voting closes on) for the cycle of ``month``.

    Nominations stay open until the end of ``AWARDS_NOMINATIONS_CLOSE_DAY`` (default the 21st),
    voting until the end of the month's last day. The close day is clamped so that at least one
    day of voting remains even in February or with a misconfigured day.
    """
    close_day = settings.AWARDS_NOMINATIONS_CLOSE_DAY if close_day is None else close_day
    last = Month.of(month).last_day
    day = max(1, min(close_day, last.day - 1))
    return date(month.year, month.month, day), last


# The three categories every install starts with (migration 0002 seeds the same, frozen there).
DEFAULT_CATEGORIES = [
    ("fast-fail", "Fast Fail Award", "Quickly identifying a doomed approach.", 10),
    ("learning-champion", "Learning Champion", "Extracting the most insight from failures.", 20),
    ("pivot-master", "Pivot Master", "Successfully changing direction on failure signals.", 30),
]


class AwardCategoryQuerySet(models.QuerySet):
    def active(self) -> AwardCategoryQuerySet:
        return self.filter(is_active=True)

    def ensure_defaults(self) -> None:
        """Create any missing default category (a database flushed after its migrations ran, as
        between browser tests, lost the seeded rows); existing ones are left as admins set them."""
        for slug, name, description, position in DEFAULT_CATEGORIES:
            self.get_or_create(slug=slug, defaults={"name": name, "description": description, "position": position})


class AwardCategory(TimeStampedModel):
    """What an award is given for. Retire (``is_active=False``) instead of deleting: past
    nominations, votes and awards keep pointing at it."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True, help_text="Retired categories take no new nominations "
                                                            "but keep their history")
    position = models.PositiveSmallIntegerField(default=0, help_text="Display order")

    objects = AwardCategoryQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "award categories"

    def __str__(self) -> str:
        return self.name


class CycleState(models.TextChoices):
    NOMINATING = "nominating", "Nominating"
    VOTING = "voting", "Voting"
    CLOSED = "closed", "Closed"


#: The order a cycle moves through; it never moves backwards.
STATE_ORDER = [CycleState.NOMINATING, CycleState.VOTING, CycleState.CLOSED]


class AwardCycleQuerySet(models.QuerySet):
    def open(self) -> AwardCycleQuerySet:
        return self.exclude(state=CycleState.CLOSED)

    def closed(self) -> AwardCycleQuerySet:
        return self.filter(state=CycleState.CLOSED)


class AwardCycle(TimeStampedModel):
    """The awards of one calendar month: nominating → voting → closed."""

    month = models.DateField(unique=True, help_text="First day of the month")
    state = models.CharField(max_length=20, choices=CycleState.choices, default=CycleState.NOMINATING)
    nominations_close_on = models.DateField(help_text="Last day on which nominations are accepted")
    voting_close_on = models.DateField(help_text="Last day on which votes are accepted (the month's last day)")
    closed_at = models.DateTimeField(null=True, blank=True)
    announced_at = models.DateTimeField(null=True, blank=True,
                                        help_text="When the winners were emailed (at most once)")

    objects = AwardCycleQuerySet.as_manager()

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(condition=Q(nominations_close_on__gte=F("month")),
                                   name="award_cycle_nominations_close_in_month"),
            models.CheckConstraint(condition=Q(voting_close_on__gte=F("nominations_close_on")),
                                   name="award_cycle_voting_after_nominations"),
            models.CheckConstraint(condition=Q(state__in=[s.value for s in CycleState]),
                                   name="award_cycle_state_valid"),
        ]

    def __str__(self) -> str:
        return f"Awards {self.label}"

    def get_absolute_url(self) -> str:
        return reverse("awards:cycle", args=[self.label])

    @property
    def period(self) -> Month:
        """The cycle's month (``month`` stores its first day)."""
        return Month.of(self.month)

    @property
    def label(self) -> str:
        """``2026-11``: how a cycle is named in URLs and the API."""
        return self.period.key

    @property
    def is_nominating(self) -> bool:
        return self.state == CycleState.NOMINATING

    @property
    def is_voting(self) -> bool:
        return self.state == CycleState.VOTING

    @property
    def is_closed(self) -> bool:
        return self.state == CycleState.CLOSED

    @property
    def next_state(self) -> str | None:
        index = STATE_ORDER.index(CycleState(self.state))
        return STATE_ORDER[index + 1].value if index + 1 < len(STATE_ORDER) else None

    def scheduled_state(self, today: date) -> str:
        """The state the calendar says the cycle should be in on ``today``."""
        if today > self.voting_close_on:
            return CycleState.CLOSED
        if today > self.nominations_close_on:
            return CycleState.VOTING
        return CycleState.NOMINATING

    def is_behind_schedule(self, today: date) -> bool:
        """Whether the deadline of the cycle's current stage has passed on ``today`` without the
        cycle moving on. A cycle moved on early by hand is ahead of the calendar, not behind it."""
        return STATE_ORDER.index(CycleState(self.scheduled_state(today))) > STATE_ORDER.index(CycleState(self.state))

    @property
    def closed_early(self) -> bool:
        """Closed by hand before its voting deadline (the month keeps this cycle, closed)."""
        return self.closed_at is not None and self.closed_at.astimezone(dt.UTC).date() <= self.voting_close_on


class CycleTransition(models.Model):
    """One move of a cycle (opening included, from the empty state): who, when, by schedule or by hand."""

    cycle = models.ForeignKey(AwardCycle, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=20, blank=True, choices=CycleState.choices)
    to_state = models.CharField(max_length=20, choices=CycleState.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="award_cycle_transitions", help_text="Empty when the schedule moved it")
    at = models.DateTimeField()
    automatic = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        who = "schedule" if self.automatic else (self.by or "someone")
        return f"{self.cycle}: {self.from_state or 'opened'} → {self.to_state} by {who}"


class Nomination(models.Model):
    """Someone puts a colleague forward for a category in a cycle, with a reason and optional evidence."""

    cycle = models.ForeignKey(AwardCycle, on_delete=models.CASCADE, related_name="nominations")
    category = models.ForeignKey(AwardCategory, on_delete=models.PROTECT, related_name="nominations")
    nominee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="award_nominations_received")
    nominator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="award_nominations_made")
    reason = models.TextField()
    experiment = models.ForeignKey("experiments.Experiment", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="award_nominations")
    postmortem = models.ForeignKey("postmortems.PostMortem", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="award_nominations")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "category", "nominator", "nominee"],
                                    name="unique_nomination_per_nominator_nominee_category_cycle"),
            models.CheckConstraint(condition=~Q(nominee=F("nominator")), name="nomination_not_self"),
            models.CheckConstraint(condition=Q(experiment__isnull=True) | Q(postmortem__isnull=True),
                                   name="nomination_at_most_one_evidence"),
        ]
        indexes = [models.Index(fields=["cycle", "category", "nominee"])]

    def __str__(self) -> str:
        return f"{self.nominee} for {self.category} ({self.cycle.label})"

    @property
    def evidence(self):
        return self.experiment or self.postmortem


class Vote(models.Model):
    """A secret ballot: one per voter per category per cycle (a database constraint), changeable
    until the cycle closes."""

    cycle = models.ForeignKey(AwardCycle, on_delete=models.CASCADE, related_name="votes")
    category = models.ForeignKey(AwardCategory, on_delete=models.PROTECT, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="award_votes_cast")
    nominee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="award_votes_received")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__position", "category__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "category", "voter"], name="unique_vote_per_voter_category_cycle"),
            models.CheckConstraint(condition=~Q(voter=F("nominee")), name="vote_not_self"),
        ]

    def __str__(self) -> str:
        return f"Vote by {self.voter} in {self.category} ({self.cycle.label})"


class Award(models.Model):
    """A winner of a category in a closed cycle. A tie gives one row per tied winner."""

    cycle = models.ForeignKey(AwardCycle, on_delete=models.CASCADE, related_name="awards")
    category = models.ForeignKey(AwardCategory, on_delete=models.PROTECT, related_name="awards")
    winner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="awards_won")
    votes = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-cycle__month", "category__position", "category__name", "winner__username"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "category", "winner"], name="unique_award_per_winner"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.cycle.label}: {self.winner}"
