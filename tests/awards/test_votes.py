"""Vote rules, winners and ties, enforced in the service layer."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from awards import services
from awards.models import Award, CycleState, Vote
from learninghub.kernel.api.exceptions import DomainConflictError
from tests.factories.awards import AwardCycleFactory, NominationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ballot(voting, categories, people):
    """A voting cycle: Ben and Cat nominated for Fast Fail, Dan for Pivot Master."""
    for nominee in ("ben", "cat"):
        NominationFactory(cycle=voting, category=categories["fast-fail"], nominee=people[nominee],
                          nominator=people["ann"])
    NominationFactory(cycle=voting, category=categories["pivot-master"], nominee=people["dan"],
                      nominator=people["ann"])
    return voting


def vote(cycle, category, voter, nominee):
    return services.vote_cast(cycle=cycle, category=category, voter=voter, nominee=nominee)


def test_a_vote_for_a_nominee_while_voting_is_recorded(ballot, fast_fail, people):
    ballot_vote, created = vote(ballot, fast_fail, people["ann"], people["ben"])
    assert created is True
    assert ballot_vote.nominee == people["ben"]


@pytest.mark.parametrize("state", [CycleState.NOMINATING, CycleState.CLOSED])
def test_votes_only_while_voting(state, fast_fail, people):
    cycle = AwardCycleFactory(state=state)
    NominationFactory(cycle=cycle, category=fast_fail, nominee=people["ben"], nominator=people["ann"])
    with pytest.raises(DomainConflictError, match="only accepted while a cycle is voting"):
        vote(cycle, fast_fail, people["cat"], people["ben"])
    assert not Vote.objects.exists()


def test_changing_a_vote_before_the_close_updates_it_in_place(ballot, fast_fail, people):
    first, _ = vote(ballot, fast_fail, people["dan"], people["ben"])
    changed, created = vote(ballot, fast_fail, people["dan"], people["cat"])
    assert created is False
    assert changed.pk == first.pk
    assert list(Vote.objects.values_list("voter__username", "nominee__username")) == [("dan", "cat")]


def test_one_vote_per_category_but_one_in_each_category(ballot, categories, people):
    vote(ballot, categories["fast-fail"], people["cat"], people["ben"])
    vote(ballot, categories["pivot-master"], people["cat"], people["dan"])
    assert Vote.objects.filter(voter=people["cat"]).count() == 2


def test_only_nominees_of_that_category_can_get_votes(ballot, categories, people):
    with pytest.raises(ValidationError) as error:  # Dan is nominated, but for Pivot Master
        vote(ballot, categories["fast-fail"], people["ann"], people["dan"])
    assert "not nominated for Fast Fail Award in this cycle" in error.value.message_dict["nominee"][0]
    assert not Vote.objects.exists()


def test_only_nominees_of_that_cycle(ballot, fast_fail, people):
    other = AwardCycleFactory(month=ballot.month.replace(month=4), state=CycleState.VOTING)
    with pytest.raises(ValidationError, match="not nominated"):
        vote(other, fast_fail, people["ann"], people["ben"])


def test_nobody_votes_for_themselves(ballot, fast_fail, people):
    with pytest.raises(ValidationError) as error:
        vote(ballot, fast_fail, people["ben"], people["ben"])
    assert error.value.message_dict == {"nominee": ["You cannot vote for yourself."]}


def test_the_database_also_refuses_a_self_vote(ballot, fast_fail, people):
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(cycle=ballot, category=fast_fail, voter=people["ben"], nominee=people["ben"])


def close(cycle):
    return services.cycle_advance(cycle=cycle, announce=False)


def test_closing_gives_the_award_to_the_most_voted_nominee(ballot, fast_fail, people):
    vote(ballot, fast_fail, people["ann"], people["ben"])
    vote(ballot, fast_fail, people["dan"], people["ben"])
    vote(ballot, fast_fail, people["cat"], people["ben"])
    close(ballot)
    assert list(Award.objects.values_list("category__slug", "winner__username", "votes")) == [
        ("fast-fail", "ben", 3)]


def test_a_tie_shares_the_award(ballot, fast_fail, people):
    vote(ballot, fast_fail, people["ann"], people["ben"])
    vote(ballot, fast_fail, people["dan"], people["cat"])
    close(ballot)
    assert sorted(Award.objects.values_list("winner__username", "votes")) == [("ben", 1), ("cat", 1)]


def test_a_category_without_nominations_has_no_winner(ballot, categories, people):
    vote(ballot, categories["pivot-master"], people["ann"], people["dan"])
    close(ballot)
    assert list(Award.objects.values_list("category__slug", flat=True)) == ["pivot-master"]
    assert not Award.objects.filter(category=categories["learning-champion"]).exists()


def test_nominees_without_any_vote_win_nothing(ballot, fast_fail):
    close(ballot)
    assert not Award.objects.exists()


def test_a_changed_vote_counts_only_once_for_the_new_choice(ballot, fast_fail, people):
    vote(ballot, fast_fail, people["ann"], people["ben"])
    vote(ballot, fast_fail, people["ann"], people["cat"])
    close(ballot)
    assert list(Award.objects.values_list("winner__username", "votes")) == [("cat", 1)]
