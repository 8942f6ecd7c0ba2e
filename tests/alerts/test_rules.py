"""Each rule fires once at its threshold and not below; escalation after N days; beat twice = one alert."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from learninghub.insights.alerts import rules, services
from learninghub.insights.alerts.models import AlertKind, Channel, Notification, RuleKind, Subscription
from learninghub.insights.alerts.tasks import evaluate_alerts
from learninghub.insights.metrics import engine
from learninghub.insights.repeats.models import CandidateStatus, FailureType, Method, RepeatCandidate
from learninghub.kernel.periods import Month
from tests.factories import MembershipFactory, UserFactory
from tests.factories.awards import AwardCycleFactory, VoteFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(team, lead):
    """A team mailing list that takes every alert."""
    return Subscription.objects.create(owner=lead, team=team, channel=Channel.EMAIL, target="recsys@example.com")


def kinds_sent(subscription=None) -> list[str]:
    queryset = Notification.objects.all() if subscription is None else Notification.objects.filter(
        subscription=subscription)
    return sorted(queryset.values_list("kind", flat=True))


def crash(team, n, when):
    for _ in range(n):
        ExperimentFactory(team=team, crashed=True, started_at=when - dt.timedelta(hours=3))


def test_system_burst_fires_at_the_threshold_once(clock, team, channel, on_commit):
    services.rule_set(team=team, kind=RuleKind.SYSTEM_BURST, user=channel.owner, threshold=3)
    crash(team, 2, timezone.now())
    assert on_commit(rules.evaluate, kinds=[RuleKind.SYSTEM_BURST]) == 0
    crash(team, 1, timezone.now())
    assert on_commit(rules.evaluate, kinds=[RuleKind.SYSTEM_BURST]) == 1
    assert on_commit(rules.evaluate, kinds=[RuleKind.SYSTEM_BURST]) == 0
    assert kinds_sent(channel) == [AlertKind.SYSTEM_BURST]
    assert mail.outbox[-1].to == ["recsys@example.com"]
    assert "3 crashed runs today" in mail.outbox[-1].subject


def test_crashes_of_another_day_do_not_count(clock, team, channel, on_commit):
    services.rule_set(team=team, kind=RuleKind.SYSTEM_BURST, user=channel.owner, threshold=2)
    crash(team, 3, timezone.now() - dt.timedelta(days=1))
    assert on_commit(rules.evaluate, kinds=[RuleKind.SYSTEM_BURST]) == 0


def test_repeat_rate_fires_at_the_threshold_and_not_below(clock, team, channel, on_commit):
    services.rule_set(team=team, kind=RuleKind.REPEAT_RATE, user=channel.owner, threshold=0.5, alert_on_rise=False)
    now = timezone.now()
    first = ExperimentFactory(team=team, failed=True, started_at=now - dt.timedelta(days=10))
    ExperimentFactory(team=team, failed=True, started_at=now - dt.timedelta(days=9))
    ExperimentFactory(team=team, failed=True, started_at=now - dt.timedelta(days=8))
    ExperimentFactory(team=team, failed=True, started_at=now - dt.timedelta(days=7), repeat_of=first)
    assert on_commit(rules.evaluate, kinds=[RuleKind.REPEAT_RATE]) == 0  # 1 of 4: 25 %
    ExperimentFactory(team=team, failed=True, started_at=now - dt.timedelta(days=6), repeat_of=first)
    ExperimentFactory(team=team, failed=True, started_at=now - dt.timedelta(days=5), repeat_of=first)
    engine.recompute([Month.current()])
    assert on_commit(rules.evaluate, kinds=[RuleKind.REPEAT_RATE]) == 1  # 3 of 6: 50 %
    assert on_commit(rules.evaluate, kinds=[RuleKind.REPEAT_RATE]) == 0
    assert kinds_sent(channel) == [AlertKind.REPEAT_RATE]


def test_overdue_owner_daily_and_escalation_to_leads_after_n_days(clock, team, lead, on_commit):
    owner = MembershipFactory(team=team, user=UserFactory(username="owen", email="owen@example.com")).user
    Subscription.objects.create(owner=owner, channel=Channel.EMAIL, kinds=[AlertKind.OVERDUE_REMINDER])
    services.rule_set(team=team, kind=RuleKind.OVERDUE, user=lead, threshold=3)
    postmortem = PostMortemFactory(team=team)
    item = ActionItemFactory(postmortem=postmortem, owner=owner, due_date=timezone.localdate() - dt.timedelta(days=1))

    on_commit(rules.evaluate, kinds=[RuleKind.OVERDUE])
    on_commit(rules.evaluate, kinds=[RuleKind.OVERDUE])
    assert kinds_sent() == [AlertKind.OVERDUE_REMINDER]  # once today, and no escalation yet

    clock.shift(dt.timedelta(days=1))  # 2 days overdue: a new daily reminder, still no escalation
    on_commit(rules.evaluate, kinds=[RuleKind.OVERDUE])
    assert kinds_sent() == [AlertKind.OVERDUE_REMINDER] * 2

    clock.shift(dt.timedelta(days=1))  # 3 days: the leads hear of it, by email when they subscribed to nothing
    on_commit(rules.evaluate, kinds=[RuleKind.OVERDUE])
    escalations = Notification.objects.filter(kind=AlertKind.OVERDUE_ESCALATION)
    assert [n.subscription.owner for n in escalations] == [lead]
    assert any(lead.email in message.to and "Escalated" in message.subject for message in mail.outbox)

    clock.shift(dt.timedelta(days=1))
    on_commit(rules.evaluate, kinds=[RuleKind.OVERDUE])
    assert escalations.count() == 1  # escalated once
    reminders = Notification.objects.filter(kind=AlertKind.OVERDUE_REMINDER, subject_key=f"action_item:{item.pk}")
    assert reminders.count() == 4


def test_review_waiting_escalates_after_n_days(clock, team, lead, on_commit):
    services.rule_set(team=team, kind=RuleKind.REVIEW_WAITING, user=lead, threshold=5)
    earlier = ExperimentFactory(team=team, failed=True)
    later = ExperimentFactory(team=team, failed=True)
    RepeatCandidate.objects.create(team=team, failure_type=FailureType.EXPERIMENT, experiment=later,
                                   earlier_experiment=earlier, score=0.6, method=Method.SIMILARITY,
                                   status=CandidateStatus.PENDING)
    clock.shift(dt.timedelta(days=4, hours=23))
    assert on_commit(rules.evaluate, kinds=[RuleKind.REVIEW_WAITING]) == 0
    clock.shift(dt.timedelta(hours=1))
    assert on_commit(rules.evaluate, kinds=[RuleKind.REVIEW_WAITING]) == 1
    assert on_commit(rules.evaluate, kinds=[RuleKind.REVIEW_WAITING]) == 0
    assert Notification.objects.get().subscription.owner == lead


@pytest.mark.clock(dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC))
def test_voting_closing_reminds_only_those_who_have_not_voted(clock, team, lead, member, on_commit):
    services.rule_set(team=team, kind=RuleKind.AWARD_DEADLINE, user=lead, threshold=4)
    cycle = AwardCycleFactory(month=dt.date(2026, 11, 1), state="voting")
    VoteFactory(cycle=cycle, voter=member)
    on_commit(rules.evaluate, kinds=[RuleKind.AWARD_DEADLINE])
    assert [n.subscription.owner for n in Notification.objects.all()] == []  # voting closes on the 30th: 5 days away
    clock.shift(dt.timedelta(days=1))
    on_commit(rules.evaluate, kinds=[RuleKind.AWARD_DEADLINE])
    assert [n.subscription.owner for n in Notification.objects.filter(kind=AlertKind.VOTING_CLOSING)] == [lead]


def test_duplicate_beat_runs_send_one_alert(clock, team, channel, on_commit):
    services.rule_set(team=team, kind=RuleKind.SYSTEM_BURST, user=channel.owner, threshold=1)
    crash(team, 1, timezone.now())
    on_commit(evaluate_alerts.delay)
    on_commit(evaluate_alerts.delay)
    assert Notification.objects.filter(kind=AlertKind.SYSTEM_BURST).count() == 1
    assert Notification.objects.filter(kind=AlertKind.WEEKLY_DIGEST).count() == 1  # last week's, once
    assert sum("crashed runs" in message.subject for message in mail.outbox) == 1


def test_a_disabled_rule_stays_quiet(clock, team, channel, on_commit):
    services.rule_set(team=team, kind=RuleKind.SYSTEM_BURST, user=channel.owner, threshold=1, enabled=False)
    crash(team, 2, timezone.now())
    assert on_commit(rules.evaluate, kinds=[RuleKind.SYSTEM_BURST]) == 0


@pytest.mark.parametrize(("kind", "threshold"), [(RuleKind.REPEAT_RATE, 1.5), (RuleKind.REPEAT_RATE, 0),
                                                 (RuleKind.OVERDUE, 0), (RuleKind.SYSTEM_BURST, 2.5),
                                                 (RuleKind.REVIEW_WAITING, 365)])
def test_thresholds_out_of_range_are_refused(team, lead, kind, threshold):
    with pytest.raises(ValidationError) as error:
        services.rule_set(team=team, kind=kind, user=lead, threshold=threshold)
    assert "threshold" in error.value.message_dict


def test_only_a_lead_sets_thresholds(team, member):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.rule_set(team=team, kind=RuleKind.SYSTEM_BURST, user=member, threshold=2)


def test_the_fallback_email_carries_only_what_is_addressed_to_the_person(clock, team, lead, on_commit):
    services.rule_set(team=team, kind=RuleKind.OVERDUE, user=lead, threshold=1)
    ActionItemFactory(postmortem=PostMortemFactory(team=team), due_date=timezone.localdate() - dt.timedelta(days=2))
    crash(team, 5, timezone.now())
    Subscription.objects.create(owner=UserFactory(), team=team, channel=Channel.EMAIL, target="list@example.com",
                                kinds=[AlertKind.SYSTEM_BURST])
    on_commit(rules.evaluate)
    default = Subscription.objects.get(owner=lead, is_default=True)
    assert kinds_sent(default) == [AlertKind.OVERDUE_ESCALATION]  # not the burst, not the digest
