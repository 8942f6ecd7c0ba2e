"""Reads for the review queue and for the dashboards' "how often were automatic links overturned"."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from learninghub.insights.repeats.models import CandidateStatus, RepeatCandidate
from learninghub.kernel.policy import restricted_postmortem_q

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
    ).order_by("-created_at", "-id")


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
