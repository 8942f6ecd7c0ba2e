"""Rule evaluation: what each rule finds for a team at a moment, as :class:`~services.Alert` s.

Reads the apps through their models' querysets and the metrics through their selectors; raises
nothing itself (``evaluate`` hands the alerts to ``services.raise_alert``, which is idempotent).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from awards.models import AwardCycle, CycleState, Vote
from experiments.models import Experiment, FailureKind, Outcome
from learninghub.insights.alerts import digest, services
from learninghub.insights.alerts.models import AlertKind, AlertRule, RuleKind
from learninghub.insights.alerts.selectors import team_is_watched
from learninghub.insights.alerts.services import Alert
from learninghub.insights.metrics.selectors import snapshot_set
from learninghub.insights.repeats.models import CandidateStatus, RepeatCandidate
from learninghub.kernel.models import Membership, Team
from learninghub.kernel.periods import Month
from postmortems.models import ActionItem


def _url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def lead_ids(team: Team) -> list[int]:
    return list(Membership.objects.filter(team=team, role=Membership.Role.LEAD).values_list("user_id", flat=True))


def repeat_rate(team: Team, rule: AlertRule, now: dt.datetime) -> Iterator[Alert]:
    """The month's repeat-failure rate at or above the threshold; or rising two months running."""
    month = Month.current(now)
    months = [month.shift(-2), month.previous(), month]
    snapshots = snapshot_set(months, team_ids=[team.pk], fresh=True)
    rates = [getattr(snapshots.get(team.pk, m), "repeat_failure_rate", None) for m in months]
    current = snapshots.get(team.pk, month)
    dashboard = _url(reverse("dashboards:team", args=[team.slug]))
    rate = current.repeat_failure_rate if current is not None else None
    if rate is not None and rate >= rule.threshold:

        def build(current=current, rate=rate) -> dict:
            return {"title": f"{team.name}: repeat-failure rate {rate:.0%} in {month.label}",
                    "lines": [f"{current.repeat_failures} of {current.failures} failures repeat an earlier one "
                              f"(threshold {rule.threshold:.0%})."],
                    "url": dashboard, "data": {"rate": rate, "threshold": rule.threshold, "month": month.key}}

        yield Alert(AlertKind.REPEAT_RATE, f"team:{team.pk}", month.key, team.pk, build)
    if rule.alert_on_rise and None not in rates and rates[0] < rates[1] < rates[2]:

        def build_rise(rates=rates) -> dict:
            text = " → ".join(f"{m.short_label} {r:.0%}" for m, r in zip(months, rates, strict=True))
            return {"title": f"{team.name}: repeat-failure rate rising two months running",
                    "lines": [text], "url": dashboard, "data": {"rates": rates, "months": [m.key for m in months]}}

        yield Alert(AlertKind.REPEAT_RISING, f"team:{team.pk}", month.key, team.pk, build_rise)


def overdue(team: Team, rule: AlertRule, now: dt.datetime) -> Iterator[Alert]:
    """Each overdue action item: its owner daily; its team's leads once it is N days overdue."""
    today = timezone.localdate(now)
    items = (ActionItem.objects.overdue(today).filter(postmortem__team=team)
             .select_related("owner", "postmortem").order_by("due_date", "pk"))
    leads = lead_ids(team)
    for item in items:
        days = (today - item.due_date).days
        url = _url(item.get_absolute_url())
        owner = item.owner.get_full_name() or item.owner.username if item.owner else "nobody"

        def build(item=item, days=days, url=url, owner=owner, escalated=False) -> dict:
            title = (f"Escalated: action item {days} days overdue ({owner})" if escalated
                     else f"Action item overdue by {days} day{'s' if days != 1 else ''}")
            return {"title": title, "lines": [item.description[:300], f"Post-mortem: {item.postmortem.title}",
                                              f"Owner: {owner} · due {item.due_date.isoformat()}"],
                    "url": url, "data": {"action_item": item.pk, "days_overdue": days, "due_date": str(item.due_date)}}

        if item.owner_id:
            yield Alert(AlertKind.OVERDUE_REMINDER, f"action_item:{item.pk}", today.isoformat(), team.pk, build,
                        addressed_to=[item.owner_id])
        if days >= rule.threshold and leads:
            yield Alert(AlertKind.OVERDUE_ESCALATION, f"action_item:{item.pk}", "once", team.pk,
                        lambda build=build: build(escalated=True), addressed_to=leads)


def review_waiting(team: Team, rule: AlertRule, now: dt.datetime) -> Iterator[Alert]:
    """Suspected repeats waiting for a lead's review for N days or more."""
    cutoff = now - dt.timedelta(days=rule.threshold)
    waiting = RepeatCandidate.objects.filter(team=team, status=CandidateStatus.PENDING, created_at__lte=cutoff)
    leads = lead_ids(team)
    if not leads:
        return
    for candidate in waiting.select_related("experiment", "postmortem", "earlier_experiment", "earlier_postmortem"):
        days = (now - candidate.created_at).days

        def build(candidate=candidate, days=days) -> dict:
            failure = candidate.experiment or candidate.postmortem
            earlier = candidate.earlier_experiment or candidate.earlier_postmortem
            return {"title": f"Suspected repeat waiting for review for {days} days",
                    "lines": [f"“{failure}” may repeat “{earlier}” (similarity {candidate.score:.2f})."],
                    "url": _url(f"{reverse('repeats:queue')}?team={team.slug}"), "data": {"candidate": candidate.pk}}

        yield Alert(AlertKind.REVIEW_WAITING, f"candidate:{candidate.pk}", "once", team.pk, build,
                    addressed_to=leads)


def system_burst(team: Team, rule: AlertRule, now: dt.datetime) -> Iterator[Alert]:
    """N or more crashed runs (system failures) ending in today's UTC day."""
    start = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    crashed = Experiment.objects.filter(team=team, outcome=Outcome.FAILURE, failure_kind=FailureKind.SYSTEM).filter(
        Q(ended_at__gte=start, ended_at__lt=end) | Q(ended_at__isnull=True, started_at__gte=start, started_at__lt=end))
    count = crashed.count()
    if count < rule.threshold:
        return

    def build() -> dict:
        errors = sorted({e for e in crashed.values_list("error_type", flat=True) if e})
        return {"title": f"{team.name}: {count} crashed runs today",
                "lines": [f"{count} runs failed with a system failure on {start.date().isoformat()} "
                          f"(threshold {rule.threshold:g}).",
                          *([f"Errors: {', '.join(errors[:5])}"] if errors else [])],
                "url": _url(f"{reverse('experiments:list')}?team={team.slug}&outcome=failure&failure_kind=system"),
                "data": {"count": count, "day": start.date().isoformat()}}

    yield Alert(AlertKind.SYSTEM_BURST, f"team:{team.pk}", start.date().isoformat(), team.pk, build)


def award_deadline(team: Team, rule: AlertRule, now: dt.datetime) -> Iterator[Alert]:
    """The current cycle's deadlines, N days ahead: nominations to the team; voting to those who
    have not voted."""
    today = timezone.localdate(now)
    cycle = AwardCycle.objects.open().filter(month=Month.current(now).first_day).first()
    if cycle is None:
        return
    url = _url(cycle.get_absolute_url())
    if cycle.state == CycleState.NOMINATING and 0 <= (cycle.nominations_close_on - today).days <= rule.threshold:
        closes = cycle.nominations_close_on

        def build_nominations() -> dict:
            return {"title": f"Award nominations close on {closes:%A %d %B}",
                    "lines": [f"Nominate colleagues for the {cycle.period.label} awards."], "url": url,
                    "data": {"cycle": cycle.label, "closes_on": closes.isoformat()}}

        yield Alert(AlertKind.NOMINATIONS_CLOSING, f"cycle:{cycle.label}", "nominations", team.pk, build_nominations)
    if cycle.state == CycleState.VOTING and 0 <= (cycle.voting_close_on - today).days <= rule.threshold:
        voted = Vote.objects.filter(cycle=cycle).values("voter_id")
        not_voted = list(Membership.objects.filter(team=team).exclude(user_id__in=voted)
                         .values_list("user_id", flat=True))
        closes = cycle.voting_close_on

        def build_voting() -> dict:
            return {"title": f"Award voting closes on {closes:%A %d %B}: you have not voted yet",
                    "lines": [f"Vote for the {cycle.period.label} awards."], "url": url,
                    "data": {"cycle": cycle.label, "closes_on": closes.isoformat()}}

        if not_voted:
            yield Alert(AlertKind.VOTING_CLOSING, f"cycle:{cycle.label}", "voting", team.pk, build_voting,
                        addressed_to=not_voted)


def weekly_digest(team: Team, rule: AlertRule, now: dt.datetime) -> Iterator[Alert]:
    """Last week's digest (ISO week, Monday to Monday UTC), from Monday 07:00 UTC on."""
    week = digest.Week.previous(now)
    if now < week.end + dt.timedelta(hours=digest.SEND_HOUR_UTC):
        return
    yield Alert(AlertKind.WEEKLY_DIGEST, f"team:{team.pk}", week.key, team.pk,
                lambda: digest.digest_payload(team, week, now=now))


# Rules whose alerts go to the whole team: skipped for a team nobody listens to.
TEAM_WIDE = {RuleKind.REPEAT_RATE, RuleKind.SYSTEM_BURST, RuleKind.WEEKLY_DIGEST}

RULES = {
    RuleKind.REPEAT_RATE: repeat_rate,
    RuleKind.OVERDUE: overdue,
    RuleKind.REVIEW_WAITING: review_waiting,
    RuleKind.SYSTEM_BURST: system_burst,
    RuleKind.AWARD_DEADLINE: award_deadline,
    RuleKind.WEEKLY_DIGEST: weekly_digest,
}


def evaluate(*, team_ids: Iterable[int] | None = None, kinds: Iterable[str] | None = None,
             now: dt.datetime | None = None) -> int:
    """Evaluate ``kinds`` (default all) for ``team_ids`` (default all teams); returns how many
    notifications were newly stored. Safe to run as often as wanted."""
    now = now or timezone.now()
    kinds = list(kinds or RULES)
    teams = Team.objects.order_by("pk")
    if team_ids is not None:
        teams = teams.filter(pk__in=list(team_ids))
    created = 0
    for team in teams.prefetch_related("alert_rules"):
        rules = services.rules_for(team)
        watched = team_is_watched(team.pk)
        for kind in kinds:
            rule = rules[kind]
            if not rule.enabled or (kind in TEAM_WIDE and not watched):
                continue
            for alert in RULES[kind](team, rule, now):
                created += len(services.raise_alert(alert))
    return created
