"""Finding suspected repeat failures and recording what people decide about them.

A failure is compared with the same team's earlier failures of both kinds (see ``matching``:
a post-mortem can repeat a failed experiment's cause). A similarity at or above
``REPEAT_AUTO_LINK_THRESHOLD`` links ``repeat_of`` (same kind only)
automatically (marked automatic, undoable); one in ``[REPEAT_REVIEW_THRESHOLD, auto)`` goes to
the review queue for a lead; below that nothing happens. When the similarity model is
unavailable the rule decides, and the rule only ever queues for review, never links.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments import services as experiment_services
from experiments.models import Experiment, Outcome
from learninghub.insights.repeats import matching
from learninghub.insights.repeats.models import CandidateStatus, FailureType, Method, RepeatCandidate, RepeatDecision
from learninghub.kernel.choices import RepeatLinkSource
from learninghub.kernel.policy import SYSTEM, can_lead, can_write
from postmortems import services as postmortem_services
from postmortems.models import PostMortem

logger = logging.getLogger(__name__)

def _failure(failure_type: str, failure_id: int):
    """The failure, or None if it is not one (any more) or is already linked."""
    if failure_type == FailureType.EXPERIMENT:
        return Experiment.objects.filter(pk=failure_id, outcome=Outcome.FAILURE, repeat_of__isnull=True).first()
    return PostMortem.objects.filter(pk=failure_id, repeat_of__isnull=True).first()


def detect_repeat(*, failure_type: str, failure_id: int) -> RepeatCandidate | None:
    """Compare one failure with earlier ones and act on the best match. Idempotent: a failure
    that already has a candidate, or already has ``repeat_of``, is left alone."""
    if RepeatCandidate.objects.filter(**{failure_type: failure_id}).exists():
        return None
    failure = _failure(failure_type, failure_id)
    if failure is None:
        return None
    match = matching.best_match(failure)
    if match is None or match.score < settings.REPEAT_REVIEW_THRESHOLD:
        return None
    # ``repeat_of`` points at the same kind: a match of the other kind waits for a lead.
    automatic = (match.method == Method.SIMILARITY and match.earlier_type == failure_type
                 and match.score >= settings.REPEAT_AUTO_LINK_THRESHOLD)
    try:
        with transaction.atomic():
            candidate = RepeatCandidate.objects.create(
                team_id=failure.team_id, failure_type=failure_type, score=match.score, method=match.method,
                status=CandidateStatus.AUTO_LINKED if automatic else CandidateStatus.PENDING,
                matched_terms=match.matched_terms,
                **{failure_type: failure, f"earlier_{match.earlier_type}_id": match.earlier_id},
            )
            RepeatDecision.objects.create(candidate=candidate, to_status=candidate.status,
                                          note="; ".join([f"{match.method} score {match.score:.2f}", *match.reasons]))
            if automatic:
                _set_repeat_of(candidate, match.earlier_id, RepeatLinkSource.AUTOMATIC, SYSTEM)
    except IntegrityError:
        return None  # a concurrent run for the same failure got there first
    return candidate


def _failure_model(candidate: RepeatCandidate):
    return Experiment if candidate.failure_type == FailureType.EXPERIMENT else PostMortem


def _set_repeat_of(candidate: RepeatCandidate, earlier_id: int | None, source: str, actor) -> None:
    """Write ``repeat_of`` on the failure through its app's service (which bumps its version, so an
    open edit form notices, and marks the affected month stale)."""
    if candidate.failure_type == FailureType.EXPERIMENT:
        experiment_services.experiment_set_repeat_of(experiment_id=candidate.experiment_id, repeat_of_id=earlier_id,
                                                     source=source, user=actor)
    else:
        postmortem_services.postmortem_set_repeat_of(postmortem_id=candidate.postmortem_id, repeat_of_id=earlier_id,
                                                     source=source, user=actor)


NOTE_LENGTH = RepeatDecision._meta.get_field("note").max_length


def _decide(candidate: RepeatCandidate, *, user, to_status: str, allowed_from: set[str], note: str = "") -> None:
    note = " ".join((note or "").split())
    if len(note) > NOTE_LENGTH:
        raise ValidationError({"note": [f"Keep the note under {NOTE_LENGTH} characters."]})
    if candidate.status not in allowed_from:
        raise ValidationError({"status": [f"This suggestion is already {candidate.get_status_display().lower()}."]})
    RepeatDecision.objects.create(candidate=candidate, from_status=candidate.status, to_status=to_status, by=user,
                                  note=note)
    candidate.status = to_status
    candidate.decided_by = user
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])


@transaction.atomic
def confirm_candidate(*, candidate: RepeatCandidate, user, note: str = "") -> RepeatCandidate:
    """A lead confirms a suspected repeat: ``repeat_of`` is set, as a person's decision; the
    optional ``note`` (why) is kept with the decision."""
    if not can_lead(user, candidate.team_id):
        raise PermissionDenied("Only leads of this team (or staff) confirm repeat links.")
    _decide(candidate, user=user, to_status=CandidateStatus.CONFIRMED, allowed_from={CandidateStatus.PENDING},
            note=note)
    if not candidate.is_cross_kind:  # repeat_of points at the same kind; the confirmed candidate records the rest
        _set_repeat_of(candidate, candidate.earlier.pk, RepeatLinkSource.MANUAL, user)
    return candidate


@transaction.atomic
def reject_candidate(*, candidate: RepeatCandidate, user, note: str = "") -> RepeatCandidate:
    if not can_lead(user, candidate.team_id):
        raise PermissionDenied("Only leads of this team (or staff) reject suggested repeats.")
    _decide(candidate, user=user, to_status=CandidateStatus.REJECTED, allowed_from={CandidateStatus.PENDING},
            note=note)
    return candidate


@transaction.atomic
def undo_automatic_link(*, candidate: RepeatCandidate, user, note: str = "") -> RepeatCandidate:
    """Any member of the team may undo an automatic link; the undo is counted as overturned."""
    if not can_write(user, candidate.team_id):
        raise PermissionDenied("Only members of this team can undo its automatic links.")
    _decide(candidate, user=user, to_status=CandidateStatus.UNDONE, allowed_from={CandidateStatus.AUTO_LINKED},
            note=note)
    failure = _failure_model(candidate).objects.get(pk=candidate.failure.pk)
    if failure.repeat_of_id == candidate.earlier.pk:
        _set_repeat_of(candidate, None, RepeatLinkSource.NONE, user)
    return candidate
