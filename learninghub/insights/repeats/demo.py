"""Demo data for the review queue: one automatic link, one overturned, one waiting for a lead.

Each failure is recorded like any other, through its app's service, then compared with the
earlier ones here (so the summary can count the outcome); idempotent by external id / title.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from experiments import services as experiment_services
from experiments.models import Experiment, FailureKind, Outcome
from learninghub.insights.repeats import services
from learninghub.insights.repeats.models import CandidateStatus, FailureType, RepeatCandidate
from learninghub.kernel.choices import FailureMode
from postmortems import services as postmortem_services
from postmortems.models import PostMortem, PostMortemStatus, Severity

OOM = "torch.OutOfMemoryError"


def _failed_experiment(*, team, user, external_id: str, title: str, hypothesis: str, error: tuple[str, str],
                       days_ago: int) -> Experiment:
    existing = Experiment.objects.filter(team=team, external_id=external_id).first()
    if existing:
        return existing
    started = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) - dt.timedelta(days=days_ago)
    return experiment_services.experiment_create(team=team, user=user, detect_repeats=False, data={
        "external_id": external_id, "title": title, "hypothesis": hypothesis, "started_at": started,
        "ended_at": started + dt.timedelta(hours=3), "outcome": Outcome.FAILURE, "failure_kind": FailureKind.SYSTEM,
        "failure_mode": FailureMode.INFRASTRUCTURE, "error_type": error[0], "error_message": error[1],
    })


def seed(kernel) -> str:
    teams, users = kernel.teams, kernel.users
    linked = _failed_experiment(
        team=teams["recsys"], user=users["bob"], external_id="demo-recsys-gpu-batch-3",
        title="Larger batch for the two-tower model, third try",
        hypothesis="Quadrupling the batch size again gives more in-batch negatives and better recall at 100.",
        error=(OOM, "CUDA out of memory. Tried to allocate 12.50 GiB"), days_ago=9)
    overturned = _failed_experiment(
        team=teams["search"], user=users["frank"], external_id="demo-search-index-rebuild-3",
        title="Index rebuild for the new analyzers, retried",
        hypothesis="The alias-flip rebuild runs without downtime for the new analyzers.",
        error=("ConnectionTimeout", "ReadTimeoutError(read timeout=60)"), days_ago=4)
    postmortem = PostMortem.objects.filter(team=teams["data-platform"],
                                           title="Training data had nulls after a feature pipeline change").first()
    if postmortem is None:
        occurred = timezone.now().replace(hour=6, minute=0, second=0, microsecond=0) - dt.timedelta(days=6)
        postmortem = postmortem_services.postmortem_create(
            team=teams["data-platform"], user=users["dave"], detect_repeats=False, notify_owners=False, fields={
                "severity": Severity.SEV3, "title": "Training data had nulls after a feature pipeline change",
                "occurred_at": occurred, "detected_at": occurred + dt.timedelta(hours=5),
                "resolved_at": occurred + dt.timedelta(hours=30), "failure_mode": FailureMode.DATA_QUALITY,
                "what_happened": "- Ranking quality dropped for a day; one input column arrived empty.",
                "root_cause": "- An upstream schema change was not caught before the nightly training job.",
                "status": PostMortemStatus.DRAFT,
            })
    for failure_type, record in [(FailureType.EXPERIMENT, linked), (FailureType.EXPERIMENT, overturned),
                                 (FailureType.POSTMORTEM, postmortem)]:
        services.detect_repeat(failure_type=failure_type, failure_id=record.pk)
    candidate = RepeatCandidate.objects.filter(experiment=overturned, status=CandidateStatus.AUTO_LINKED).first()
    if candidate is not None:
        services.undo_automatic_link(candidate=candidate, user=users["erin"])
    counts = {status: RepeatCandidate.objects.filter(status=status).count() for status in CandidateStatus.values}
    return (f"{counts['auto_linked']} automatic link(s), {counts['undone']} overturned, "
            f"{counts['pending']} waiting for review")
