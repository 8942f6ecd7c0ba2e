"""Two votes at once by the same person still leave one vote: the database's unique constraint
decides, and the loser of the race updates the winner's row instead of failing."""

import threading

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction

from awards import services
from awards.models import CycleState, Vote
from tests.factories.awards import AwardCycleFactory, NominationFactory, VoteFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _run_in_threads(*calls):
    """Run each call in its own thread (own connection, own transaction), released together."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            for _attempt in range(200):
                try:
                    results[index] = call()
                    return
                except OperationalError as exc:  # SQLite: "database table is locked" means wait and retry
                    if "locked" not in str(exc):
                        raise
                    threading.Event().wait(0.01)
            raise AssertionError("never got the database lock")
        except Exception as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def test_two_simultaneous_votes_by_the_same_person_leave_one_vote(people, fast_fail):
    cycle = AwardCycleFactory(state=CycleState.VOTING)
    for nominee in ("ben", "cat"):
        NominationFactory(cycle=cycle, category=fast_fail, nominee=people[nominee], nominator=people["dan"])

    results = _run_in_threads(
        lambda: services.vote_cast(cycle=cycle, category=fast_fail, voter=people["ann"], nominee=people["ben"]),
        lambda: services.vote_cast(cycle=cycle, category=fast_fail, voter=people["ann"], nominee=people["cat"]),
    )

    votes = list(Vote.objects.filter(cycle=cycle, category=fast_fail, voter=people["ann"]))
    assert len(votes) == 1
    assert votes[0].nominee in (people["ben"], people["cat"])
    assert sorted(created for _vote, created in results) == [False, True], "one inserted, the other updated"


def test_a_vote_colliding_with_another_transactions_vote_becomes_an_update(people, fast_fail):
    """The second transaction's insert collides with the first transaction's row (uncommitted when
    the second starts): the constraint rejects the insert and the vote is changed in place."""
    cycle = AwardCycleFactory(state=CycleState.VOTING)
    for nominee in ("ben", "cat"):
        NominationFactory(cycle=cycle, category=fast_fail, nominee=people[nominee], nominator=people["dan"])
    first_inserted, release_first = threading.Event(), threading.Event()

    def first():
        with transaction.atomic():
            vote = VoteFactory(cycle=cycle, category=fast_fail, voter=people["ann"], nominee=people["ben"])
            first_inserted.set()
            release_first.wait(timeout=10)
        return vote

    def second():
        first_inserted.wait(timeout=10)
        release_first.set()
        return services.vote_cast(cycle=cycle, category=fast_fail, voter=people["ann"], nominee=people["cat"])

    _first, (vote, created) = _run_in_threads(first, second)

    assert created is False
    assert list(Vote.objects.filter(voter=people["ann"]).values_list("nominee__username", flat=True)) == ["cat"]
    assert vote.nominee == people["cat"]


def test_the_database_itself_refuses_a_second_vote_row(people, fast_fail):
    cycle = AwardCycleFactory(state=CycleState.VOTING)
    VoteFactory(cycle=cycle, category=fast_fail, voter=people["ann"], nominee=people["ben"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(cycle=cycle, category=fast_fail, voter=people["ann"], nominee=people["cat"])
    assert connection.vendor in {"sqlite", "postgresql"}


def test_closing_waits_for_a_vote_being_changed_so_the_results_count_the_final_choice(people, fast_fail):
    cycle = AwardCycleFactory(state=CycleState.VOTING)
    for nominee in ("ben", "cat"):
        NominationFactory(cycle=cycle, category=fast_fail, nominee=people[nominee], nominator=people["dan"])
    VoteFactory(cycle=cycle, category=fast_fail, voter=people["ann"], nominee=people["ben"])
    changed, closing = threading.Event(), threading.Event()

    def change_vote():
        with transaction.atomic():
            services.vote_cast(cycle=cycle, category=fast_fail, voter=people["ann"], nominee=people["cat"])
            changed.set()
            closing.wait(timeout=10)
            threading.Event().wait(0.3)  # let the close queue up behind this open transaction

    def close():
        changed.wait(timeout=10)
        closing.set()
        return services.cycle_advance(cycle=cycle, announce=False)

    _run_in_threads(change_vote, close)

    cycle.refresh_from_db()
    assert cycle.state == CycleState.CLOSED
    assert list(cycle.awards.values_list("winner__username", "votes")) == [("cat", 1)]
