"""Award rules and cycle moves. Pages, the API, the beat task and the demo all go through here.

Rule violations raise Django's ``ValidationError`` keyed by field (400 in the API, field errors
on pages); acting on a cycle in the wrong stage raises ``DomainConflictError`` (409).

Time is injectable: every function that depends on the date takes ``now`` (an aware datetime,
default ``timezone.now()``); dates are taken in UTC, like the metrics' calendar months.
"""

from __future__ import annotations

import datetime as dt
import logging
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mass_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from awards.models import (
    STATE_ORDER,
    Award,
    AwardCategory,
    AwardCycle,
    CycleState,
    CycleTransition,
    Nomination,
    Vote,
    cycle_deadlines,
)
from awards.selectors import is_award_member
from learninghub.kernel.api.exceptions import DomainConflictError
from learninghub.kernel.periods import Month
from learninghub.kernel.policy import can_lead_anywhere
from learninghub.kernel.queue import enqueue_by_name

logger = logging.getLogger(__name__)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def utc_today(now: dt.datetime | None = None) -> date:
    return _now(now).astimezone(dt.UTC).date()


def can_advance_cycles(user) -> bool:
    """Leads of any team and staff may move a cycle on by hand (award cycles are organisation-wide)."""
    return can_lead_anywhere(user)


def _require_advancer(user) -> None:
    if not can_advance_cycles(user):
        raise PermissionDenied("Only team leads or staff can open or advance an award cycle.")


def _committed_state(cycle: AwardCycle) -> str:
    """Read the cycle's committed state so that a concurrent stage change waits for this transaction.

    On PostgreSQL the row is read ``FOR SHARE``: nominations and votes do not block each other,
    but a transaction moving the cycle on (``FOR UPDATE``) waits for them to commit, and one that
    starts while the cycle is being moved on sees the new state. SQLite serialises writers itself.
    """
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(AwardCycle._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT state FROM {table} WHERE id = %s FOR SHARE", [cycle.pk])
            row = cursor.fetchone()
    else:
        row = AwardCycle.objects.filter(pk=cycle.pk).values_list("state").first()
    if row is None:
        raise DomainConflictError("This award cycle no longer exists.")
    cycle.state = row[0]
    return row[0]


# --- Cycles -------------------------------------------------------------------------------


@transaction.atomic
def cycle_open(*, month: date, by=None, now: dt.datetime | None = None) -> tuple[AwardCycle, bool]:
    """Open the cycle of ``month`` in the nominating state, unless it exists (idempotent: the
    month is unique, so two concurrent calls still open one). ``by`` None means the schedule."""
    if by is not None:
        _require_advancer(by)
    now = _now(now)
    month = Month.of(month).first_day
    existing = AwardCycle.objects.filter(month=month).first()
    if existing is not None:
        return existing, False
    nominations_close_on, voting_close_on = cycle_deadlines(month)
    try:
        with transaction.atomic():
            cycle = AwardCycle.objects.create(month=month, state=CycleState.NOMINATING,
                                              nominations_close_on=nominations_close_on,
                                              voting_close_on=voting_close_on)
    except IntegrityError:
        return AwardCycle.objects.get(month=month), False
    CycleTransition.objects.create(cycle=cycle, from_state="", to_state=CycleState.NOMINATING, by=by, at=now,
                                   automatic=by is None)
    return cycle, True


def _move(cycle: AwardCycle, *, by, now: dt.datetime, announce: bool) -> None:
    """One step forward for a cycle locked by the caller; closing computes the winners."""
    from_state, to_state = cycle.state, cycle.next_state
    cycle.state = to_state
    fields = ["state", "updated_at"]
    if to_state == CycleState.CLOSED:
        cycle.closed_at = now
        fields.append("closed_at")
        if not announce:
            cycle.announced_at = now
            fields.append("announced_at")
    cycle.save(update_fields=fields)
    CycleTransition.objects.create(cycle=cycle, from_state=from_state, to_state=to_state, by=by, at=now,
                                   automatic=by is None)
    if to_state == CycleState.CLOSED:
        _compute_awards(cycle)
        if announce:
            cycle_id = cycle.pk
            transaction.on_commit(lambda: _enqueue_announcement(cycle_id), robust=True)


def _compute_awards(cycle: AwardCycle) -> list[Award]:
    """Winners per category: the nominees with the most votes (at least one); ties share the award.
    A category without nominations has no votes and therefore no winner."""
    Award.objects.filter(cycle=cycle).delete()
    counts = (Vote.objects.filter(cycle=cycle).values("category_id", "nominee_id")
              .annotate(n=Count("id")).order_by())
    best: dict[int, int] = {}
    for row in counts:
        best[row["category_id"]] = max(best.get(row["category_id"], 0), row["n"])
    awards = [Award(cycle=cycle, category_id=row["category_id"], winner_id=row["nominee_id"], votes=row["n"])
              for row in counts if row["n"] > 0 and row["n"] == best[row["category_id"]]]
    return Award.objects.bulk_create(awards)


def _enqueue_announcement(cycle_id: int) -> None:
    # If the broker is down, the hourly beat run finds the unannounced cycle and sends it then.
    enqueue_by_name("awards.tasks.announce_award_winners", cycle_id)


@transaction.atomic
def cycle_advance(*, cycle: AwardCycle, by=None, expected_state: str | None = None,
                  now: dt.datetime | None = None, announce: bool = True) -> AwardCycle:
    """Move ``cycle`` one stage on: nominating → voting → closed, recording who and when.

    ``by`` is the person doing it by hand (a lead of any team or staff), None for the schedule.
    ``expected_state`` guards against double submissions: if the cycle already moved on, nothing
    happens and ``DomainConflictError`` says so. Closing computes the winners and, after commit,
    emails them (``announce=False`` records the cycle as announced without sending, for demo
    data and history imports).
    """
    if by is not None:
        _require_advancer(by)
    now = _now(now)
    locked = AwardCycle.objects.select_for_update().get(pk=cycle.pk)
    if locked.is_closed:
        raise DomainConflictError(f"The {locked.period.label} award cycle is already closed.")
    if expected_state and locked.state != expected_state:
        raise DomainConflictError(
            f"The {locked.period.label} award cycle is already {locked.get_state_display().lower()}; "
            "someone moved it on before you. Reload the page.")
    _move(locked, by=by, now=now, announce=announce)
    cycle.refresh_from_db()
    return cycle


def _advance_to_schedule(cycle_id: int, *, today: date, now: dt.datetime) -> list[str]:
    moves = []
    while True:
        with transaction.atomic():
            cycle = AwardCycle.objects.select_for_update().get(pk=cycle_id)
            target = cycle.scheduled_state(today)
            if STATE_ORDER.index(CycleState(cycle.state)) >= STATE_ORDER.index(CycleState(target)):
                return moves
            from_state = cycle.state
            _move(cycle, by=None, now=now, announce=True)
            moves.append(f"{cycle.label}: {from_state} → {cycle.state}")


def cycles_advance_on_schedule(*, now: dt.datetime | None = None) -> list[str]:
    """What the hourly beat task does; idempotent, and it catches up missed runs.

    Opens this month's cycle, moves every open cycle to the stage its deadlines call for (a
    cycle whose deadlines all passed goes through voting to closed, both moves recorded), and
    announces closed cycles whose announcement never went out. Returns what changed.
    """
    now = _now(now)
    today = utc_today(now)
    events = []
    cycle, created = cycle_open(month=Month.of(today).first_day, now=now)
    if created:
        events.append(f"{cycle.label}: opened")
    open_ids = AwardCycle.objects.open().filter(month__lte=Month.of(today).first_day).order_by("month")
    for cycle_id in open_ids.values_list("pk", flat=True):
        events.extend(_advance_to_schedule(cycle_id, today=today, now=now))
    for cycle_id in AwardCycle.objects.closed().filter(announced_at__isnull=True).values_list("pk", flat=True):
        if cycle_announce_winners(cycle_id=cycle_id, now=now):
            events.append(f"cycle {cycle_id}: winners announced")
    return events


def cycle_announce_winners(*, cycle_id: int, now: dt.datetime | None = None) -> int:
    """Email the winners of a closed cycle to every active user with an email address, at most
    once (claimed with a conditional update; a failed send rolls the claim back so it is
    retried). A cycle without winners is marked announced without sending. Returns emails sent."""
    now = _now(now)
    with transaction.atomic():
        claimed = AwardCycle.objects.filter(pk=cycle_id, state=CycleState.CLOSED,
                                            announced_at__isnull=True).update(announced_at=now)
        if not claimed:
            return 0
        cycle = AwardCycle.objects.get(pk=cycle_id)
        awards = list(cycle.awards.select_related("category", "winner")
                      .order_by("category__position", "category__name", "winner__username"))
        if not awards:
            return 0
        subject, body = _announcement(cycle, awards)
        recipients = (get_user_model().objects.filter(is_active=True).exclude(email="")
                      .order_by("pk").values_list("email", flat=True))
        messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [email]) for email in recipients]
        sent = send_mass_mail(messages, fail_silently=False) if messages else 0
    logger.info("Announced the %s award winners to %d people", cycle.label, sent)
    return sent


def _announcement(cycle: AwardCycle, awards: list[Award]) -> tuple[str, str]:
    from django.urls import reverse

    lines = [f"The {cycle.period.label} awards are closed. Congratulations to the winners:", ""]
    by_category: dict[str, list[Award]] = {}
    for award in awards:
        by_category.setdefault(award.category.name, []).append(award)
    for name, winners in by_category.items():
        names = " and ".join(award.winner.get_full_name() or award.winner.username for award in winners)
        votes = winners[0].votes
        shared = " (shared)" if len(winners) > 1 else ""
        lines.append(f"- {name}: {names}{shared}, {votes} vote{'s' if votes != 1 else ''}")
    lines += ["", f"All results: {settings.SITE_URL}{reverse('awards:cycle', args=[cycle.label])}"]
    return f"LearningHub awards, {cycle.period.label}: the winners", "\n".join(lines)


# --- Nominations and votes ----------------------------------------------------------------


@transaction.atomic
def nomination_create(*, cycle: AwardCycle, category: AwardCategory, nominator, nominee, reason: str,
                      experiment=None, postmortem=None) -> Nomination:
    """Nominate ``nominee`` for ``category`` in ``cycle``.

    Rules: only while the cycle is nominating (409 otherwise); a reason is required; nobody
    nominates themselves; only team members are nominees; one nomination per nominator, nominee,
    category and cycle; the category is active; evidence is at most one experiment or
    post-mortem that the nominator can see.
    """
    from postmortems.models import PostMortem

    state = _committed_state(cycle)
    if state != CycleState.NOMINATING:
        raise DomainConflictError(
            f"Nominations are only accepted while a cycle is nominating; the {cycle.period.label} "
            f"cycle is {cycle.get_state_display().lower()}.")
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors.setdefault("reason", []).append("A nomination needs a reason: say what they did.")
    if not category.is_active:
        errors.setdefault("category", []).append(f"{category.name} is retired and takes no new nominations.")
    if nominee.pk == nominator.pk:
        errors.setdefault("nominee", []).append("You cannot nominate yourself.")
    elif not nominee.is_active:
        errors.setdefault("nominee", []).append(f"{nominee.username} is not an active user.")
    elif not is_award_member(nominee):
        errors.setdefault("nominee", []).append(
            f"{nominee.username} is not in any team: only team members can be nominated.")
    elif Nomination.objects.filter(cycle=cycle, category=category, nominator=nominator, nominee=nominee).exists():
        errors.setdefault("nominee", []).append(_duplicate_nomination_message(nominee, category))
    if experiment is not None and postmortem is not None:
        errors.setdefault("postmortem", []).append(
            "Link one piece of evidence: an experiment or a post-mortem, not both.")
    elif postmortem is not None and not PostMortem.objects.visible_to(nominator).filter(pk=postmortem.pk).exists():
        errors.setdefault("postmortem", []).append("Unknown post-mortem, or one you cannot see: evidence must "
                                                   "be a record visible to you.")
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return Nomination.objects.create(cycle=cycle, category=category, nominator=nominator, nominee=nominee,
                                             reason=reason, experiment=experiment, postmortem=postmortem)
    except IntegrityError as exc:  # a concurrent identical nomination won the race
        raise ValidationError({"nominee": [_duplicate_nomination_message(nominee, category)]}) from exc


def _duplicate_nomination_message(nominee, category: AwardCategory) -> str:
    name = nominee.get_full_name() or nominee.username
    return f"You have already nominated {name} for {category.name} in this cycle (one nomination each)."


@transaction.atomic
def vote_cast(*, cycle: AwardCycle, category: AwardCategory, voter, nominee) -> tuple[Vote, bool]:
    """Cast or change ``voter``'s vote in ``category``; returns (vote, created).

    Rules: only while the cycle is voting (409 otherwise); only for someone nominated in that
    category in that cycle; nobody votes for themselves; one vote per voter per category per
    cycle. That last rule is a database constraint: the vote is inserted, and if a row already
    exists (an earlier vote, or a concurrent request that got there first) it is updated in place,
    so two simultaneous votes still leave exactly one.
    """
    state = _committed_state(cycle)
    if state != CycleState.VOTING:
        raise DomainConflictError(
            f"Votes are only accepted while a cycle is voting; the {cycle.period.label} cycle is "
            f"{cycle.get_state_display().lower()}.")
    if nominee.pk == voter.pk:
        raise ValidationError({"nominee": ["You cannot vote for yourself."]})
    if not Nomination.objects.filter(cycle=cycle, category=category, nominee=nominee).exists():
        name = nominee.get_full_name() or nominee.username
        raise ValidationError({"nominee": [
            f"{name} is not nominated for {category.name} in this cycle: vote for one of its nominees."]})
    try:
        with transaction.atomic():
            return Vote.objects.create(cycle=cycle, category=category, voter=voter, nominee=nominee), True
    except IntegrityError:
        changed = Vote.objects.filter(cycle=cycle, category=category, voter=voter).update(
            nominee=nominee, updated_at=timezone.now())
        if not changed:
            raise
    return Vote.objects.get(cycle=cycle, category=category, voter=voter), False
