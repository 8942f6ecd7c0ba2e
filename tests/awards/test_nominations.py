"""Nomination rules, enforced by the service that pages and API both call."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from awards import services
from awards.models import CycleState, Nomination
from learninghub.kernel.api.exceptions import DomainConflictError
from tests.factories import MembershipFactory, TeamFactory
from tests.factories.awards import AwardCategoryFactory, AwardCycleFactory, NominationFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db


def nominate(cycle, category, nominator, nominee, reason="Stopped a doomed idea early.", **evidence):
    return services.nomination_create(cycle=cycle, category=category, nominator=nominator, nominee=nominee,
                                      reason=reason, **evidence)


def test_a_nomination_while_nominating_is_recorded(nominating, fast_fail, people):
    nomination = nominate(nominating, fast_fail, people["ann"], people["ben"], reason="  Quick kill.  ")
    assert nomination.reason == "Quick kill."
    assert list(Nomination.objects.values_list("nominator__username", "nominee__username")) == [("ann", "ben")]


@pytest.mark.parametrize("state", [CycleState.VOTING, CycleState.CLOSED])
def test_nominations_only_while_nominating(state, fast_fail, people):
    cycle = AwardCycleFactory(state=state)
    with pytest.raises(DomainConflictError, match="only accepted while a cycle is nominating"):
        nominate(cycle, fast_fail, people["ann"], people["ben"])
    assert not Nomination.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(nominating, fast_fail, people, reason):
    with pytest.raises(ValidationError) as error:
        nominate(nominating, fast_fail, people["ann"], people["ben"], reason=reason)
    assert error.value.message_dict == {"reason": ["A nomination needs a reason: say what they did."]}


def test_nobody_nominates_themselves(nominating, fast_fail, people):
    with pytest.raises(ValidationError) as error:
        nominate(nominating, fast_fail, people["ann"], people["ann"])
    assert error.value.message_dict == {"nominee": ["You cannot nominate yourself."]}


def test_the_database_also_refuses_a_self_nomination(nominating, fast_fail, people):
    with pytest.raises(IntegrityError), transaction.atomic():
        Nomination.objects.create(cycle=nominating, category=fast_fail, nominator=people["ann"],
                                  nominee=people["ann"], reason="me")


def test_one_nomination_per_nominator_nominee_category_and_cycle(nominating, categories, people):
    nominate(nominating, categories["fast-fail"], people["ann"], people["ben"])
    with pytest.raises(ValidationError, match="already nominated Ben Tester for Fast Fail Award"):
        nominate(nominating, categories["fast-fail"], people["ann"], people["ben"])
    # Other combinations are all fine.
    nominate(nominating, categories["pivot-master"], people["ann"], people["ben"])
    nominate(nominating, categories["fast-fail"], people["cat"], people["ben"])
    nominate(nominating, categories["fast-fail"], people["ann"], people["cat"])
    assert Nomination.objects.count() == 4


def test_the_database_also_refuses_a_duplicate_nomination(nominating, fast_fail, people):
    NominationFactory(cycle=nominating, category=fast_fail, nominator=people["ann"], nominee=people["ben"])
    with pytest.raises(IntegrityError), transaction.atomic():
        NominationFactory(cycle=nominating, category=fast_fail, nominator=people["ann"], nominee=people["ben"])


def test_a_retired_category_takes_no_new_nominations(nominating, people):
    retired = AwardCategoryFactory(slug="old-award", name="Old Award", is_active=False)
    with pytest.raises(ValidationError, match="Old Award is retired"):
        nominate(nominating, retired, people["ann"], people["ben"])


def test_evidence_may_be_an_experiment_or_a_visible_postmortem(nominating, fast_fail, people):
    experiment = ExperimentFactory(failed=True)
    postmortem = PostMortemFactory()
    with_experiment = nominate(nominating, fast_fail, people["ann"], people["ben"], experiment=experiment)
    with_postmortem = nominate(nominating, fast_fail, people["ann"], people["cat"], postmortem=postmortem)
    assert with_experiment.evidence == experiment
    assert with_postmortem.evidence == postmortem


def test_evidence_is_one_record_not_two(nominating, fast_fail, people):
    with pytest.raises(ValidationError) as error:
        nominate(nominating, fast_fail, people["ann"], people["ben"], experiment=ExperimentFactory(),
                 postmortem=PostMortemFactory())
    assert "not both" in error.value.message_dict["postmortem"][0]


def test_a_restricted_postmortem_of_another_team_is_not_evidence(nominating, fast_fail, people):
    secret_team = TeamFactory(slug="secret")
    restricted = PostMortemFactory(team=secret_team, restricted=True)
    with pytest.raises(ValidationError) as error:
        nominate(nominating, fast_fail, people["ann"], people["ben"], postmortem=restricted)
    assert "cannot see" in error.value.message_dict["postmortem"][0]
    # A member of that team can see it, so may cite it.
    MembershipFactory(team=secret_team, user=people["cat"])
    assert nominate(nominating, fast_fail, people["cat"], people["ben"], postmortem=restricted).postmortem == restricted


def test_all_broken_rules_are_reported_at_once(nominating, people):
    retired = AwardCategoryFactory(slug="old-award", name="Old Award", is_active=False)
    with pytest.raises(ValidationError) as error:
        nominate(nominating, retired, people["ann"], people["ann"], reason="")
    assert set(error.value.message_dict) == {"reason", "category", "nominee"}
