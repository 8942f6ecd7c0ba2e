"""Demo awards: two closed past cycles with winners (one with a shared award, one category without
nominations) and this month's cycle in the stage today's date calls for. Idempotent: a month
that already has a cycle is left alone. Goes through the services, so every rule holds."""

from __future__ import annotations

import datetime as dt
from datetime import date

from django.db import transaction
from django.utils import timezone

from awards import services
from awards.models import AwardCategory, AwardCycle, CycleState
from learninghub.kernel.periods import Month

# (category slug, nominator, nominee, reason)
PAST_NOMINATIONS = [
    [
        ("fast-fail", "alice", "bob", "Stopped the two-tower retrieval rewrite after two days, as soon as offline "
                                      "recall plateaued, and wrote down why."),
        ("fast-fail", "frank", "bob", "Called the early stop on the embedding refresh before it ate a sprint."),
        ("fast-fail", "carol", "dave", "Proved in one afternoon that the streaming join could not meet its SLA."),
        ("learning-champion", "erin", "carol", "Her backfill post-mortem lessons were reused by two other teams."),
        ("learning-champion", "bob", "carol", "Turned the schema-drift incident into a checklist everyone uses."),
        ("learning-champion", "alice", "frank", "Documented every failed ranking ablation with a clear lesson."),
        ("pivot-master", "dave", "alice", "Moved the recsys roadmap from deep cross nets to a simpler GBDT "
                                          "after the first failure, and it shipped."),
        ("pivot-master", "erin", "frank", "Switched query expansion to a dictionary approach after the model "
                                          "overfit."),
    ],
    [
        ("fast-fail", "bob", "frank", "Ended the synonym-mining experiment after one run with a crisp write-up."),
        ("fast-fail", "carol", "erin", "Spotted the label leak on day one and stopped the training run."),
        ("learning-champion", "alice", "dave", "His feature-store outage lessons prevented a repeat in search."),
        ("learning-champion", "frank", "dave", "Applied three earlier lessons to the new pipeline design."),
    ],
]
# (category slug, voter, nominee)
PAST_VOTES = [
    [
        ("fast-fail", "alice", "bob"), ("fast-fail", "carol", "bob"), ("fast-fail", "frank", "bob"),
        ("fast-fail", "dave", "bob"), ("fast-fail", "erin", "dave"),
        ("learning-champion", "alice", "carol"), ("learning-champion", "bob", "carol"),
        ("learning-champion", "dave", "carol"), ("learning-champion", "erin", "frank"),
        ("pivot-master", "bob", "alice"), ("pivot-master", "carol", "alice"), ("pivot-master", "frank", "alice"),
        ("pivot-master", "erin", "frank"),
    ],
    [  # a tie in Fast Fail: Frank and Erin share it; nobody nominated for Pivot Master: no winner
        ("fast-fail", "alice", "frank"), ("fast-fail", "bob", "frank"),
        ("fast-fail", "dave", "erin"), ("fast-fail", "carol", "erin"),
        ("learning-champion", "bob", "dave"), ("learning-champion", "carol", "dave"),
        ("learning-champion", "erin", "dave"),
    ],
]
CURRENT_NOMINATIONS = [
    ("fast-fail", "carol", "bob", "Killed the cold-start bandit idea within a day of the first offline replay."),
    ("fast-fail", "erin", "alice", "Stopped the reranker distillation when the teacher itself underperformed."),
    ("learning-champion", "frank", "carol", "Ran the lessons review that closed four old action items."),
    ("pivot-master", "bob", "dave", "Rebuilt the ingestion job on batch after the streaming attempt failed."),
]
CURRENT_VOTES = [("fast-fail", "dave", "bob"), ("learning-champion", "alice", "carol")]


def _at(day: date, hour: int = 0, minute: int = 5) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def _evidence(nominee) -> dict:
    """The nominee's own failed experiment or post-mortem as evidence, if their demos created one."""
    from experiments.models import Experiment, Outcome
    from postmortems.models import PostMortem

    experiment = Experiment.objects.filter(created_by=nominee, outcome=Outcome.FAILURE).order_by("pk").first()
    if experiment is not None:
        return {"experiment": experiment}
    postmortem = PostMortem.objects.filter(created_by=nominee, restricted=False).order_by("pk").first()
    return {"postmortem": postmortem} if postmortem is not None else {}


def _nominate(cycle: AwardCycle, rows, kernel, categories) -> None:
    for slug, nominator, nominee, reason in rows:
        services.nomination_create(cycle=cycle, category=categories[slug], nominator=kernel.users[nominator],
                                   nominee=kernel.users[nominee], reason=reason, **_evidence(kernel.users[nominee]))


def _vote(cycle: AwardCycle, rows, kernel, categories) -> None:
    for slug, voter, nominee in rows:
        services.vote_cast(cycle=cycle, category=categories[slug], voter=kernel.users[voter],
                           nominee=kernel.users[nominee])


@transaction.atomic
def _seed_past(month: date, nominations, votes, kernel, categories) -> None:
    cycle, _ = services.cycle_open(month=month, now=_at(month))
    _nominate(cycle, nominations, kernel, categories)
    services.cycle_advance(cycle=cycle, now=_at(cycle.nominations_close_on + dt.timedelta(days=1)))
    _vote(cycle, votes, kernel, categories)
    # The demo does not email everyone about months long gone.
    services.cycle_advance(cycle=cycle, now=_at(cycle.voting_close_on + dt.timedelta(days=1)), announce=False)


@transaction.atomic
def _seed_current(month: date, today: date, kernel, categories) -> AwardCycle:
    cycle, _ = services.cycle_open(month=month, now=_at(month))
    _nominate(cycle, CURRENT_NOMINATIONS, kernel, categories)
    if cycle.scheduled_state(today) != CycleState.NOMINATING:
        services.cycle_advance(cycle=cycle, now=_at(cycle.nominations_close_on + dt.timedelta(days=1)))
        _vote(cycle, CURRENT_VOTES, kernel, categories)
    return cycle


def seed(kernel) -> str:
    AwardCategory.objects.ensure_defaults()
    categories = {category.slug: category for category in AwardCategory.objects.all()}
    today = services.utc_today(timezone.now())
    current_month = Month.of(today)
    current = current_month.first_day
    months = [current_month.shift(-2).first_day, current_month.previous().first_day]
    created = []
    for month, nominations, votes in zip(months, PAST_NOMINATIONS, PAST_VOTES, strict=True):
        if not AwardCycle.objects.filter(month=month).exists():
            _seed_past(month, nominations, votes, kernel, categories)
            created.append(month.strftime("%Y-%m"))
    if not AwardCycle.objects.filter(month=current).exists():
        cycle = _seed_current(current, today, kernel, categories)
        created.append(f"{cycle.label} ({cycle.state})")
    if not created:
        return "award cycles already present"
    return f"award cycles created: {', '.join(created)}"
