"""The cycle's schedule: beat opens, moves and closes cycles (catching up missed runs), leads and
staff move them by hand, every move is recorded, and the winners are emailed once."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from awards import services
from awards.models import AwardCycle, CycleState, CycleTransition, cycle_deadlines
from awards.tasks import advance_award_cycles
from learninghub.kernel.api.exceptions import DomainConflictError
from learninghub.kernel.models import Membership
from tests.awards.conftest import MARCH, at
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.factories.awards import AwardCycleFactory, NominationFactory

pytestmark = pytest.mark.django_db

APRIL = dt.date(2026, 4, 1)


def run_beat(day: dt.date, hour: int = 0):
    return services.cycles_advance_on_schedule(now=at(day, hour))


def history(cycle):
    return list(cycle.transitions.values_list("from_state", "to_state", "automatic", "by__username"))


def test_the_beat_task_opens_this_months_cycle_once(this_month):
    advance_award_cycles.delay()
    advance_award_cycles.delay()
    cycle = AwardCycle.objects.get()
    assert cycle.month == this_month
    assert cycle.state == cycle.scheduled_state(services.utc_today())
    assert cycle.transitions.filter(from_state="").count() == 1


def test_opening_sets_the_deadlines_from_the_configured_close_day(settings):
    settings.AWARDS_NOMINATIONS_CLOSE_DAY = 15
    run_beat(MARCH)
    cycle = AwardCycle.objects.get()
    assert (cycle.state, cycle.nominations_close_on, cycle.voting_close_on) == (
        CycleState.NOMINATING, dt.date(2026, 3, 15), dt.date(2026, 3, 31))
    assert history(cycle) == [("", "nominating", True, None)]


def test_deadlines_default_to_the_21st_and_always_leave_a_day_to_vote():
    assert cycle_deadlines(MARCH) == (dt.date(2026, 3, 21), dt.date(2026, 3, 31))
    assert cycle_deadlines(dt.date(2026, 2, 1), close_day=31) == (dt.date(2026, 2, 27), dt.date(2026, 2, 28))


def test_nominations_close_after_the_close_day_and_voting_after_the_last_day():
    run_beat(MARCH)
    run_beat(dt.date(2026, 3, 21), hour=23)
    assert AwardCycle.objects.get().state == CycleState.NOMINATING
    run_beat(dt.date(2026, 3, 22))
    assert AwardCycle.objects.get().state == CycleState.VOTING
    run_beat(dt.date(2026, 3, 31), hour=23)
    assert AwardCycle.objects.get(month=MARCH).state == CycleState.VOTING
    run_beat(APRIL)
    march = AwardCycle.objects.get(month=MARCH)
    assert march.state == CycleState.CLOSED
    assert march.closed_at == at(APRIL, 0)
    assert history(march) == [("", "nominating", True, None), ("nominating", "voting", True, None),
                              ("voting", "closed", True, None)]
    assert AwardCycle.objects.get(month=APRIL).state == CycleState.NOMINATING


def test_running_the_beat_again_changes_nothing():
    run_beat(dt.date(2026, 3, 25))
    assert run_beat(dt.date(2026, 3, 25)) == []
    assert CycleTransition.objects.count() == 2


def test_missed_runs_are_caught_up_straight_through_to_closed():
    """The worker was down from March 2nd to April 3rd: March's cycle still says nominating."""
    run_beat(dt.date(2026, 3, 2))
    events = run_beat(dt.date(2026, 4, 3))
    march = AwardCycle.objects.get(month=MARCH)
    assert march.state == CycleState.CLOSED
    assert history(march)[1:] == [("nominating", "voting", True, None), ("voting", "closed", True, None)]
    assert AwardCycle.objects.get(month=APRIL).state == CycleState.NOMINATING
    assert events == ["2026-04: opened", "2026-03: nominating → voting", "2026-03: voting → closed"]


def test_catching_up_a_late_run_in_the_voting_window(mailoutbox):
    run_beat(dt.date(2026, 3, 20))
    run_beat(dt.date(2026, 3, 28))  # the run on the 22nd was missed
    cycle = AwardCycle.objects.get()
    assert cycle.state == CycleState.VOTING
    assert len(history(cycle)) == 2


def test_a_cycle_moved_on_by_hand_is_not_moved_back(lead):
    run_beat(dt.date(2026, 3, 5))
    cycle = AwardCycle.objects.get()
    services.cycle_advance(cycle=cycle, by=lead, now=at(dt.date(2026, 3, 10)))
    run_beat(dt.date(2026, 3, 11))
    cycle.refresh_from_db()
    assert cycle.state == CycleState.VOTING
    assert history(cycle) == [("", "nominating", True, None), ("nominating", "voting", False, "leo")]


def test_a_lead_of_any_team_advances_a_cycle_by_hand(lead, nominating):
    services.cycle_advance(cycle=nominating, by=lead, now=at(dt.date(2026, 3, 9), 14))
    assert nominating.state == CycleState.VOTING
    transition = nominating.transitions.get()
    assert (transition.by, transition.at, transition.automatic) == (lead, at(dt.date(2026, 3, 9), 14), False)


def test_staff_advance_a_cycle_by_hand(nominating):
    staff = UserFactory(username="root", is_staff=True)
    services.cycle_advance(cycle=nominating, by=staff)
    assert nominating.state == CycleState.VOTING


@pytest.mark.parametrize("who", ["member", "outsider", "nobody"])
def test_members_without_a_lead_role_cannot_advance(who, request, nominating):
    user = UserFactory(username="plain") if who == "nobody" else request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.cycle_advance(cycle=nominating, by=user)
    nominating.refresh_from_db()
    assert nominating.state == CycleState.NOMINATING
    assert not CycleTransition.objects.exists()


def test_a_lead_of_another_team_is_a_lead_too(nominating):
    user = MembershipFactory(team=TeamFactory(slug="search"), role=Membership.Role.LEAD).user
    services.cycle_advance(cycle=nominating, by=user)
    assert nominating.state == CycleState.VOTING


def test_a_closed_cycle_cannot_be_advanced(lead):
    closed = AwardCycleFactory(state=CycleState.CLOSED)
    with pytest.raises(DomainConflictError, match="already closed"):
        services.cycle_advance(cycle=closed, by=lead)


def test_a_double_submitted_advance_moves_the_cycle_once(lead, nominating):
    services.cycle_advance(cycle=nominating, by=lead, expected_state=CycleState.NOMINATING)
    with pytest.raises(DomainConflictError, match="already voting"):
        services.cycle_advance(cycle=nominating, by=lead, expected_state=CycleState.NOMINATING)
    nominating.refresh_from_db()
    assert nominating.state == CycleState.VOTING
    assert nominating.transitions.count() == 1


# --- The winners' email -----------------------------------------------------------------------


@pytest.fixture
def decided_march(categories, people):
    """March in voting (the beat ran on the 25th) with one vote, for Ben, in Fast Fail."""
    run_beat(dt.date(2026, 3, 25))
    cycle = AwardCycle.objects.get()
    assert cycle.state == CycleState.VOTING
    NominationFactory(cycle=cycle, category=categories["fast-fail"], nominee=people["ben"], nominator=people["ann"])
    services.vote_cast(cycle=cycle, category=categories["fast-fail"], voter=people["ann"], nominee=people["ben"])
    return cycle


def test_closing_emails_the_winners_to_every_active_user_with_an_email_once(
        decided_march, people, mailoutbox, django_capture_on_commit_callbacks):
    UserFactory(username="gone", is_active=False)
    UserFactory(username="no-mail", email="")
    with django_capture_on_commit_callbacks(execute=True):
        run_beat(APRIL)
    assert sorted(email for message in mailoutbox for email in message.to) == sorted(
        f"{name}@example.com" for name in people)
    message = mailoutbox[0]
    assert message.subject == "LearningHub awards, March 2026: the winners"
    assert "- Fast Fail Award: Ben Tester, 1 vote" in message.body
    assert "/awards/cycles/2026-03/" in message.body

    with django_capture_on_commit_callbacks(execute=True):
        run_beat(APRIL)
        run_beat(dt.date(2026, 4, 2))
        services.cycle_announce_winners(cycle_id=decided_march.pk)
    assert len(mailoutbox) == len(people), "announced once"


def test_an_announcement_the_broker_lost_is_sent_by_the_next_beat_run(decided_march, people, mailoutbox):
    run_beat(APRIL)  # on_commit never fires inside this test's transaction: as if the broker were down
    assert len(mailoutbox) == len(people)
    decided_march.refresh_from_db()
    assert decided_march.announced_at == at(APRIL, 0)


def test_closing_by_hand_announces_too(decided_march, lead, people, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.cycle_advance(cycle=decided_march, by=lead)
    assert decided_march.state == CycleState.CLOSED
    assert len(mailoutbox) == len(people) + 1  # the lead has an email too


def test_a_cycle_without_winners_sends_no_email(mailoutbox, django_capture_on_commit_callbacks, people):
    with django_capture_on_commit_callbacks(execute=True):
        run_beat(MARCH)
        run_beat(APRIL)
    assert AwardCycle.objects.get(month=MARCH).announced_at is not None
    assert mailoutbox == []
