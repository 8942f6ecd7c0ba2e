"""Demo data: two closed past cycles with winners and the current month's cycle; idempotent."""

import pytest

from awards import demo, services
from awards.models import Award, AwardCycle, CycleState, CycleTransition, Nomination, Vote
from learninghub.kernel import demo as kernel_demo
from learninghub.kernel.periods import Month

pytestmark = pytest.mark.django_db


def test_seed_creates_two_closed_cycles_with_winners_and_an_open_current_one(categories, mailoutbox):
    kernel = kernel_demo.seed()
    summary = demo.seed(kernel)
    assert summary.startswith("award cycles created:")
    today = services.utc_today()
    cycles = list(AwardCycle.objects.order_by("month"))
    assert len(cycles) == 3
    first, second, current = cycles
    assert current.month == Month.of(today).first_day
    assert current.state == current.scheduled_state(today)
    assert first.state == second.state == CycleState.CLOSED
    assert Award.objects.filter(cycle=first).count() == 3
    shared = Award.objects.filter(cycle=second, category__slug="fast-fail")
    assert sorted(shared.values_list("winner__username", flat=True)) == ["erin", "frank"], "a shared award"
    assert not Award.objects.filter(cycle=second, category__slug="pivot-master").exists()
    for cycle in (first, second):
        assert list(cycle.transitions.values_list("to_state", flat=True)) == ["nominating", "voting", "closed"]
    assert mailoutbox == [], "the demo does not email everyone"


def test_seed_twice_changes_nothing(categories):
    kernel = kernel_demo.seed()
    demo.seed(kernel)
    counts = [model.objects.count() for model in (AwardCycle, CycleTransition, Nomination, Vote, Award)]
    assert demo.seed(kernel) == "award cycles already present"
    assert [model.objects.count() for model in (AwardCycle, CycleTransition, Nomination, Vote, Award)] == counts
