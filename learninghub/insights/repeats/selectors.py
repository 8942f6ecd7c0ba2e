"""Reads for the review queue, for the banner on a record under review, and for the dashboards'
"how often were automatic links overturned"."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from learninghub.insights.repeats.models import (
    CandidateStatus,
    FailureType,
    Method,
    RepeatCandidate,
    RepeatDecision,
)
from learninghub.kernel.models import Membership
from learninghub.kernel.policy import can_lead, can_read, restricted_postmortem_q

QUEUE_VIEWS = {
    "pending": Q(status=CandidateStatus.PENDING),
    "automatic": Q(status__in=[CandidateStatus.AUTO_LINKED, CandidateStatus.UNDONE]),
    "decided": Q(status__in=[CandidateStatus.CONFIRMED, CandidateStatus.REJECTED, CandidateStatus.UNDONE]),
}


def review_queue(*, view: str = "pending", team_id: int | None = None, user) -> QuerySet[RepeatCandidate]:
    """Candidates for the queue page; restricted post-mortems of other teams stay hidden."""
    queryset = RepeatCandidate.objects.filter(QUEUE_VIEWS.get(view, QUEUE_VIEWS["pending"])).for_team(team_id)
    queryset = queryset.filter(restricted_postmortem_q(user, "postmortem__"),
                               restricted_postmortem_q(user, "earlier_postmortem__"))
    return queryset.select_related(
        "team", "experiment", "earlier_experiment", "postmortem", "earlier_postmortem", "decided_by"
    ).prefetch_related(
        "experiment__lessons", "earlier_experiment__lessons", "postmortem__lessons", "earlier_postmortem__lessons",
        Prefetch("decisions", queryset=RepeatDecision.objects.select_related("by").order_by("at", "id")),
    ).order_by("-created_at", "-id")


def team_leads(team_ids: set[int]) -> dict[int, list[str]]:
    """Each team's leads by name: who a member who cannot decide should ask."""
    names: dict[int, list[str]] = defaultdict(list)
    rows = (Membership.objects.filter(team_id__in=team_ids, role=Membership.Role.LEAD, user__is_active=True)
            .select_related("user").order_by("user__first_name", "user__username"))
    for membership in rows:
        names[membership.team_id].append(membership.user.get_full_name() or membership.user.get_username())
    return dict(names)


@dataclass(frozen=True)
class Reasons:
    """Why the detector suggested a candidate, from its first decision's note
    ("similarity score 0.64; identical title; same error type")."""

    score_line: str = ""
    reasons: list[str] = field(default_factory=list)


def reasons_of(candidate: RepeatCandidate) -> Reasons:
    first = next((d for d in candidate.decisions.all() if not d.from_status), None)  # the detector's
    if first is None or not first.note:
        return Reasons()
    parts = [part.strip() for part in first.note.split(";") if part.strip()]
    return Reasons(score_line=parts[0], reasons=parts[1:]) if parts else Reasons()


def person_decisions(candidate: RepeatCandidate) -> list:
    """The decisions people made (the detector's own first entry left out), oldest first."""
    return sorted((d for d in candidate.decisions.all() if d.from_status), key=lambda d: (d.at, d.id))


@dataclass
class Learnings:
    """What an earlier failure taught: its lessons, an experiment's next steps, and the action
    items meant to prevent it again (a post-mortem's own, or those of the post-mortems reviewing
    an experiment, only the ones ``user`` may see)."""

    earlier: Any
    lessons: list = field(default_factory=list)
    action_items: list = field(default_factory=list)
    postmortems: list = field(default_factory=list)
    next_steps: list = field(default_factory=list)


def learnings_of(earlier, *, user) -> Learnings:
    if earlier.__class__._meta.model_name == FailureType.EXPERIMENT:
        postmortems = list(earlier.postmortems.visible_to(user).prefetch_related("action_items__owner"))
        steps = earlier.next_steps if isinstance(earlier.next_steps, list) else []
        return Learnings(earlier=earlier, lessons=list(earlier.lessons.all()), postmortems=postmortems,
                         next_steps=steps)
    return Learnings(earlier=earlier, lessons=list(earlier.lessons.all()),
                     action_items=list(earlier.action_items.select_related("owner")))


@dataclass
class ReviewNote:
    """What a record's page says about a suspected repeat that repeat_of does not show: a
    candidate waiting for a lead (the banner), or a confirmed one of the other kind."""

    candidate: RepeatCandidate
    learnings: Learnings
    leads: list[str]
    may_decide: bool

    @property
    def pending(self) -> bool:
        return self.candidate.status == CandidateStatus.PENDING

    @property
    def by_rule(self) -> bool:
        return self.candidate.method == Method.RULE


def review_note(record, *, user) -> ReviewNote | None:
    """For a failure's page: its pending candidate, or its confirmed one of the other kind (a
    same-kind confirmation is ``repeat_of``, which the page shows itself). None when there is
    none, or when ``user`` may not open the earlier record (never reveal a restricted one)."""
    failure_type = record.__class__._meta.model_name
    if failure_type not in FailureType.values or record.pk is None:
        return None
    candidate = (RepeatCandidate.objects.filter(**{failure_type: record})
                 .filter(Q(status=CandidateStatus.PENDING) | Q(status=CandidateStatus.CONFIRMED)
                         & ~Q(**{f"earlier_{failure_type}__isnull": False}))
                 .select_related("team", "earlier_experiment", "earlier_postmortem").first())
    if candidate is None or not can_read(user, candidate.earlier):
        return None
    return ReviewNote(candidate=candidate, learnings=learnings_of(candidate.earlier, user=user),
                      leads=team_leads({candidate.team_id}).get(candidate.team_id, []),
                      may_decide=can_lead(user, candidate.team_id))


@dataclass(frozen=True)
class OverturnStats:
    automatic_links: int
    overturned: int
    pending: int = 0

    @property
    def rate(self) -> float | None:
        return self.overturned / self.automatic_links if self.automatic_links else None


def overturn_stats(team_id: int | None = None) -> OverturnStats:
    """How many automatic links were made, how many people undid, and how many suspected
    repeats wait for a lead — in one query."""
    counts = RepeatCandidate.objects.for_team(team_id).aggregate(
        automatic=Count("id", filter=Q(status__in=[CandidateStatus.AUTO_LINKED, CandidateStatus.UNDONE])),
        undone=Count("id", filter=Q(status=CandidateStatus.UNDONE)),
        pending=Count("id", filter=Q(status=CandidateStatus.PENDING)),
    )
    return OverturnStats(automatic_links=counts["automatic"], overturned=counts["undone"], pending=counts["pending"])


@dataclass
class QueueRow:
    """One candidate as the review queue shows it: both records side by side, why it matched,
    what people decided, and who may decide."""

    candidate: RepeatCandidate
    reasons: Reasons
    decisions: list
    leads: list[str]
    may_lead: bool

    @property
    def by_rule(self) -> bool:
        return self.candidate.method == Method.RULE


def queue_rows(candidates, *, user) -> list[QueueRow]:
    """The page's candidates (from :func:`review_queue`) with their reasons and their teams' leads
    (one query for the leads of every team on the page)."""
    candidates = list(candidates)
    leads = team_leads({c.team_id for c in candidates})
    return [QueueRow(candidate=c, reasons=reasons_of(c), decisions=person_decisions(c),
                     leads=leads.get(c.team_id, []), may_lead=can_lead(user, c.team_id)) for c in candidates]
