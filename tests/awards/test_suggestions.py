"""Suggested nominees from the month's records: Fast Fail (failed fastest and documented a lesson),
Learning Champion (lessons others applied), Pivot Master (succeeded building on a failure)."""

import datetime as dt

import pytest
from django.urls import reverse

from awards import selectors
from awards.models import CycleState
from tests.awards.conftest import MARCH, at
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.factories.awards import AwardCycleFactory
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

MARCH_10 = at(dt.date(2026, 3, 10))


def failed(author, hours, ended=MARCH_10, lesson=True, **kwargs):
    experiment = ExperimentFactory(failed=True, created_by=author, started_at=ended - dt.timedelta(hours=hours),
                                   ended_at=ended, **kwargs)
    if lesson:
        LessonFactory(experiment=experiment, created_by=author)
    return experiment


def names(suggestions):
    return [suggestion.user.username for suggestion in suggestions]


def test_fast_fail_ranks_people_by_their_fastest_documented_failure(people):
    quick = failed(people["ann"], hours=5)
    failed(people["ann"], hours=50)
    failed(people["ben"], hours=20)
    failed(people["cat"], hours=1, lesson=False)  # no lesson documented
    failed(people["dan"], hours=1, ended=at(dt.date(2026, 4, 2)))  # another month
    ExperimentFactory(succeeded=True, created_by=people["dan"], started_at=MARCH_10 - dt.timedelta(hours=1),
                      ended_at=MARCH_10)  # not a failure
    suggestions = selectors.suggest_fast_fail(month=MARCH, viewer=people["ann"])
    assert names(suggestions) == ["ann", "ben"]
    assert suggestions[0].evidence[0].pk == quick.pk
    assert suggestions[0].summary == "Concluded a failed experiment in 5 h and documented 1 lesson."
    assert suggestions[0].prefill == {"experiment": quick.pk}
    assert len(suggestions[0].evidence) == 2


def test_fast_fail_uses_the_time_to_the_failure_verdict_the_tooling_measured(people):
    failed(people["ann"], hours=5)
    # Stopped by the failure detector after 10 minutes; concluded (ended) by a person two days later.
    stopped = failed(people["ben"], hours=50, time_to_failure=dt.timedelta(minutes=10))
    suggestions = selectors.suggest_fast_fail(month=MARCH, viewer=people["ann"])
    assert names(suggestions) == ["ben", "ann"]
    assert suggestions[0].evidence[0].pk == stopped.pk
    assert suggestions[0].summary == "Concluded a failed experiment in 10 min and documented 1 lesson."


def test_learning_champions_are_people_whose_lessons_others_applied(people):
    first = LessonFactory(created_by=people["ann"], experiment=ExperimentFactory(created_by=people["ann"]))
    second = LessonFactory(created_by=people["ann"], experiment=ExperimentFactory(created_by=people["ann"]))
    LessonApplicationFactory(lesson=first, applied_by=people["ben"], applied_at=MARCH_10)
    LessonApplicationFactory(lesson=second, applied_by=people["cat"], applied_at=MARCH_10)
    LessonApplicationFactory(lesson=second, applied_by=people["dan"], applied_at=MARCH_10)
    own = LessonFactory(created_by=people["ben"])
    LessonApplicationFactory(lesson=own, applied_by=people["ben"], applied_at=MARCH_10)  # applied own lesson
    late = LessonFactory(created_by=people["cat"])
    LessonApplicationFactory(lesson=late, applied_by=people["ann"], applied_at=at(dt.date(2026, 4, 1)))
    suggestions = selectors.suggest_learning_champions(month=MARCH, viewer=people["dan"])
    assert names(suggestions) == ["ann"]
    assert suggestions[0].summary == "2 lessons applied by others 3 times this month."
    assert {item.pk for item in suggestions[0].evidence} == {first.experiment_id, second.experiment_id}


def test_a_lesson_without_an_author_belongs_to_its_records_creator(people):
    postmortem = PostMortemFactory(created_by=people["cat"])
    lesson = LessonFactory(experiment=None, postmortem=postmortem, team=postmortem.team, created_by=None)
    other_place = ExperimentFactory(created_by=people["dan"], team=postmortem.team)
    LessonApplicationFactory(lesson=lesson, experiment=other_place, applied_by=None, applied_at=MARCH_10)
    suggestions = selectors.suggest_learning_champions(month=MARCH, viewer=people["ann"])
    assert names(suggestions) == ["cat"]
    assert suggestions[0].evidence[0].kind == "postmortem"


def test_lessons_from_restricted_postmortems_count_only_for_those_who_may_see_them(people):
    team = TeamFactory(slug="secret")
    MembershipFactory(team=team, user=people["ben"])
    restricted = PostMortemFactory(team=team, restricted=True, created_by=people["cat"])
    lesson = LessonFactory(experiment=None, postmortem=restricted, team=team, created_by=people["cat"])
    LessonApplicationFactory(lesson=lesson, applied_by=people["ben"], applied_at=MARCH_10)
    assert names(selectors.suggest_learning_champions(month=MARCH, viewer=people["ben"])) == ["cat"]
    assert names(selectors.suggest_learning_champions(month=MARCH, viewer=people["ann"])) == []


def test_pivot_masters_succeeded_by_building_on_a_failure(people):
    failure = failed(people["ann"], hours=3)
    pivot = ExperimentFactory(succeeded=True, created_by=people["ben"], builds_on=failure,
                              started_at=MARCH_10, ended_at=MARCH_10 + dt.timedelta(days=2))
    ExperimentFactory(succeeded=True, created_by=people["cat"], builds_on=pivot,  # builds on a success
                      started_at=MARCH_10, ended_at=MARCH_10 + dt.timedelta(days=3))
    ExperimentFactory(failed=True, created_by=people["dan"], builds_on=failure,  # did not succeed
                      started_at=MARCH_10, ended_at=MARCH_10 + dt.timedelta(days=3))
    suggestions = selectors.suggest_pivot_masters(month=MARCH, viewer=people["ann"])
    assert names(suggestions) == ["ben"]
    assert [item.pk for item in suggestions[0].evidence] == [pivot.pk, failure.pk]


def test_inactive_people_are_not_suggested(people):
    gone = UserFactory(username="gone", is_active=False)
    failed(gone, hours=1)
    assert selectors.suggest_fast_fail(month=MARCH, viewer=people["ann"]) == []


def test_suggestions_with_evidence_and_a_prefilled_nomination_on_the_page(client, people, categories, this_month):
    AwardCycleFactory(month=this_month, state=CycleState.NOMINATING)
    ended = at(this_month + dt.timedelta(days=1))
    experiment = failed(people["ben"], hours=2, ended=ended, title="Doomed bandit")
    client.force_login(people["ann"])
    response = client.get(reverse("awards:current"))
    content = response.content.decode()
    assert "Concluded a failed experiment in 2 h and documented 1 lesson." in content
    assert "Doomed bandit" in content
    prefill = f"?category=fast-fail&amp;nominee=ben&amp;experiment={experiment.pk}#nominate-fast-fail"
    assert prefill in content

    form = client.get(reverse("awards:current"), {"category": "fast-fail", "nominee": "ben",
                                                  "experiment": experiment.pk}).context["boards"][0].nomination_form
    assert form.initial == {"nominee": people["ben"].pk, "experiment": experiment.pk}


def test_you_are_not_offered_a_nominate_button_for_yourself(client, people, categories, this_month):
    AwardCycleFactory(month=this_month, state=CycleState.NOMINATING)
    failed(people["ann"], hours=2, ended=at(this_month + dt.timedelta(days=1)))
    client.force_login(people["ann"])
    content = client.get(reverse("awards:current")).content.decode()
    assert "documented 1 lesson" in content
    assert "nominee=ann" not in content
