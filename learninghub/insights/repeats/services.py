"""Finding suspected repeat failures and recording what people decide about them.

A failure is compared with earlier failures of the same type (experiment or post-mortem) in
the same team. A similarity at or above ``REPEAT_AUTO_LINK_THRESHOLD`` links ``repeat_of``
automatically (marked automatic, undoable); one in ``[REPEAT_REVIEW_THRESHOLD, auto)`` goes to
the review queue for a lead; below that nothing happens. When the similarity model is
unavailable the rule decides, and the rule only ever queues for review, never links.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from experiments.models import Experiment, Outcome
from learninghub.insights.repeats.models import CandidateStatus, FailureType, Method, RepeatCandidate, RepeatDecision
from learninghub.insights.repeats.similarity import SimilarityUnavailableError, rule_score
from learninghub.kernel.choices import RepeatLinkSource
from learninghub.kernel.permissions import can_edit_team, can_lead_team
from learninghub.kernel.signals import notify_team_records_changed
from postmortems.models import PostMortem

logger = logging.getLogger(__name__)

MAX_EARLIER_FAILURES = 200


@dataclass(frozen=True)
class Match:
    earlier_id: int
    score: float
    method: str


def _experiment_text(experiment) -> str:
    return " ".join([experiment.title, experiment.hypothesis, experiment.error_type, experiment.error_message])


def _postmortem_text(postmortem) -> str:
    return " ".join([postmortem.title, postmortem.what_happened, postmortem.root_cause])


def _failure_and_earlier(failure_type: str, failure_id: int):
    """The failure (or None if it is not one, or already linked) and its earlier failures."""
    if failure_type == FailureType.EXPERIMENT:
        failure = Experiment.objects.filter(pk=failure_id, outcome=Outcome.FAILURE, repeat_of__isnull=True).first()
        if failure is None:
            return None, []
        earlier = (Experiment.objects.filter(team_id=failure.team_id, outcome=Outcome.FAILURE)
                   .filter(models.Q(started_at__lt=failure.started_at)
                           | models.Q(started_at=failure.started_at, pk__lt=failure.pk))
                   .exclude(pk=failure.pk)
                   .order_by("-started_at")
                   .only("id", "title", "hypothesis", "error_type", "error_message", "failure_mode")
                   [:MAX_EARLIER_FAILURES])
        return failure, list(earlier)
    failure = PostMortem.objects.filter(pk=failure_id, repeat_of__isnull=True).first()
    if failure is None:
        return None, []
    earlier = PostMortem.objects.filter(team_id=failure.team_id).exclude(pk=failure.pk)
    if failure.occurred_at:
        earlier = earlier.filter(occurred_at__lt=failure.occurred_at)
    else:
        earlier = earlier.filter(pk__lt=failure.pk)
    earlier = earlier.order_by("-occurred_at").only("id", "title", "what_happened", "root_cause", "failure_mode")
    return failure, list(earlier[:MAX_EARLIER_FAILURES])


def similarity_backend():
    return import_string(settings.REPEAT_SIMILARITY_BACKEND)()


def best_match(failure_type: str, failure, earlier: list) -> Match | None:
    text = _experiment_text if failure_type == FailureType.EXPERIMENT else _postmortem_text
    if not earlier:
        return None
    try:
        scores = similarity_backend().scores(text(failure), [text(e) for e in earlier])
        score, best = max(zip(scores, earlier, strict=True), key=lambda pair: pair[0])
        return Match(earlier_id=best.pk, score=round(score, 4), method=Method.SIMILARITY)
    except (SimilarityUnavailableError, ImportError, ValueError, RuntimeError) as exc:
        logger.info("Similarity model unavailable (%s); the rule decides", exc)
    cause = failure.root_cause if failure_type == FailureType.POSTMORTEM else text(failure)
    same_mode = [e for e in earlier if failure.failure_mode and e.failure_mode == failure.failure_mode]
    scored = [(rule_score(cause, e.root_cause if failure_type == FailureType.POSTMORTEM else text(e)), e)
              for e in same_mode]
    if not scored:
        return None
    score, best = max(scored, key=lambda pair: pair[0])
    return Match(earlier_id=best.pk, score=round(score, 4), method=Method.RULE)


def detect_repeat(*, failure_type: str, failure_id: int) -> RepeatCandidate | None:
    """Compare one failure with earlier ones and act on the best match. Idempotent: a failure
    that already has a candidate, or already has ``repeat_of``, is left alone."""
    if RepeatCandidate.objects.filter(**{failure_type: failure_id}).exists():
        return None
    failure, earlier = _failure_and_earlier(failure_type, failure_id)
    if failure is None:
        return None
    match = best_match(failure_type, failure, earlier)
    if match is None or match.score < settings.REPEAT_REVIEW_THRESHOLD:
        return None
    automatic = match.method == Method.SIMILARITY and match.score >= settings.REPEAT_AUTO_LINK_THRESHOLD
    try:
        with transaction.atomic():
            candidate = RepeatCandidate.objects.create(
                team_id=failure.team_id, failure_type=failure_type, score=match.score, method=match.method,
                status=CandidateStatus.AUTO_LINKED if automatic else CandidateStatus.PENDING,
                **{failure_type: failure, f"earlier_{failure_type}_id": match.earlier_id},
            )
            RepeatDecision.objects.create(candidate=candidate, to_status=candidate.status,
                                          note=f"{match.method} score {match.score:.2f}")
            if automatic:
                _set_repeat_of(candidate, match.earlier_id, RepeatLinkSource.AUTOMATIC)
    except IntegrityError:
        return None  # a concurrent run for the same failure got there first
    return candidate


def _failure_model(candidate: RepeatCandidate):
    return Experiment if candidate.failure_type == FailureType.EXPERIMENT else PostMortem


def _set_repeat_of(candidate: RepeatCandidate, earlier_id: int | None, source: str) -> None:
    """Write ``repeat_of`` on the failure, bumping its version so an open edit form notices."""
    model = _failure_model(candidate)
    model.objects.filter(pk=candidate.failure.pk).update(
        repeat_of_id=earlier_id, repeat_link_source=source, version=models.F("version") + 1)
    failure = candidate.failure
    moment = failure.ended_at if candidate.failure_type == FailureType.EXPERIMENT else failure.occurred_at
    notify_team_records_changed(candidate.team_id, [moment])


def _decide(candidate: RepeatCandidate, *, user, to_status: str, allowed_from: set[str], note: str = "") -> None:
    if candidate.status not in allowed_from:
        raise ValidationError({"status": [f"This suggestion is already {candidate.get_status_display().lower()}."]})
    RepeatDecision.objects.create(candidate=candidate, from_status=candidate.status, to_status=to_status, by=user,
                                  note=note)
    candidate.status = to_status
    candidate.decided_by = user
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])


@transaction.atomic
def confirm_candidate(*, candidate: RepeatCandidate, user) -> RepeatCandidate:
    """A lead confirms a suspected repeat: ``repeat_of`` is set, as a person's decision."""
    if not can_lead_team(user, candidate.team_id):
        raise PermissionDenied("Only leads of this team (or staff) confirm repeat links.")
    _decide(candidate, user=user, to_status=CandidateStatus.CONFIRMED, allowed_from={CandidateStatus.PENDING})
    _set_repeat_of(candidate, candidate.earlier.pk, RepeatLinkSource.MANUAL)
    return candidate


@transaction.atomic
def reject_candidate(*, candidate: RepeatCandidate, user) -> RepeatCandidate:
    if not can_lead_team(user, candidate.team_id):
        raise PermissionDenied("Only leads of this team (or staff) reject suggested repeats.")
    _decide(candidate, user=user, to_status=CandidateStatus.REJECTED, allowed_from={CandidateStatus.PENDING})
    return candidate


@transaction.atomic
def undo_automatic_link(*, candidate: RepeatCandidate, user) -> RepeatCandidate:
    """Any member of the team may undo an automatic link; the undo is counted as overturned."""
    if not can_edit_team(user, candidate.team_id):
        raise PermissionDenied("Only members of this team can undo its automatic links.")
    _decide(candidate, user=user, to_status=CandidateStatus.UNDONE, allowed_from={CandidateStatus.AUTO_LINKED})
    failure = _failure_model(candidate).objects.get(pk=candidate.failure.pk)
    if failure.repeat_of_id == candidate.earlier.pk:
        _set_repeat_of(candidate, None, RepeatLinkSource.NONE)
    return candidate
