"""The registry's data rules, as the models enforce them (pages and API report them as field errors)."""

import datetime as dt
import math

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments.formatting import format_duration, format_metric
from experiments.models import Experiment, Lesson, LessonApplication, Outcome
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db


def errors_of(instance) -> dict:
    with pytest.raises(ValidationError) as excinfo:
        instance.full_clean()
    return excinfo.value.message_dict


def test_a_plain_experiment_is_valid(team):
    ExperimentFactory.build(team=team, created_by=None, metrics={"ctr": 0.5, "n": 3}).full_clean()


def test_end_before_start_is_refused(team):
    now = timezone.now()
    experiment = ExperimentFactory.build(team=team, created_by=None, started_at=now, ended_at=now - dt.timedelta(1),
                                         outcome=Outcome.FAILURE)
    assert "cannot end before it started" in errors_of(experiment)["ended_at"][0]


def test_database_also_refuses_end_before_start(team):
    experiment = ExperimentFactory(team=team)
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.filter(pk=experiment.pk).update(ended_at=experiment.started_at - dt.timedelta(hours=1))


def test_in_progress_has_no_end(team):
    experiment = ExperimentFactory.build(team=team, created_by=None, ended_at=timezone.now())
    assert "in progress" in errors_of(experiment)["ended_at"][0]


@pytest.mark.parametrize("metrics", [
    {"ctr": "high"}, {"ctr": None}, {"ctr": True}, {"ctr": [1]}, {"ctr": math.nan}, {"": 1}, ["ctr", 1],
])
def test_metrics_must_be_named_finite_numbers(team, metrics):
    experiment = ExperimentFactory.build(team=team, created_by=None, metrics=metrics)
    assert "metrics" in errors_of(experiment)


@pytest.mark.parametrize("steps", [["ok", ""], "one string", [1, 2]])
def test_next_steps_are_a_list_of_texts(team, steps):
    assert "next_steps" in errors_of(ExperimentFactory.build(team=team, created_by=None, next_steps=steps))


def test_failure_kind_only_on_failures(team):
    experiment = ExperimentFactory.build(team=team, created_by=None, outcome=Outcome.PARTIAL, failure_kind="system",
                                         ended_at=timezone.now())
    assert "Only a failure" in errors_of(experiment)["failure_kind"][0]


def test_a_success_carries_no_failure_fields(team):
    earlier = ExperimentFactory(team=team, failed=True, started_at=timezone.now() - dt.timedelta(days=9))
    experiment = ExperimentFactory.build(
        team=team, created_by=None, succeeded=True, failure_mode="overfitting", error_type="ValueError",
        error_message="boom", error_trace="Traceback…", repeat_of=earlier)
    errors = errors_of(experiment)
    assert set(errors) >= {"failure_mode", "error_type", "error_message", "error_trace", "repeat_of"}
    assert "successful experiment" in errors["failure_mode"][0]


def test_a_failure_may_carry_its_crash_report(team):
    ExperimentFactory.build(team=team, created_by=None, failed=True, failure_kind="system",
                            error_type="KeyError", error_message="'user_id'", error_trace="Traceback…").full_clean()


def test_builds_on_itself_is_refused(team):
    experiment = ExperimentFactory(team=team)
    experiment.builds_on = experiment
    assert "itself" in errors_of(experiment)["builds_on"][0]


def test_builds_on_cycle_is_refused(lineage):
    v1, _v2, _v3, v4 = lineage
    v1.builds_on = v4
    assert "cycle" in errors_of(v1)["builds_on"][0]


def test_builds_on_another_branch_is_fine(lineage, team):
    v1 = lineage[0]
    fork = ExperimentFactory(team=team)
    v1.builds_on = fork
    v1.full_clean()


def test_repeat_of_must_be_an_earlier_failure(team):
    now = timezone.now()
    success = ExperimentFactory(team=team, succeeded=True, started_at=now - dt.timedelta(days=5))
    later_failure = ExperimentFactory(team=team, failed=True, started_at=now + dt.timedelta(days=1))
    experiment = ExperimentFactory(team=team, failed=True, started_at=now)
    experiment.repeat_of = success
    assert "did not fail" in errors_of(experiment)["repeat_of"][0]
    experiment.repeat_of = later_failure
    assert "started later" in errors_of(experiment)["repeat_of"][0]
    experiment.repeat_of = experiment
    assert "itself" in errors_of(experiment)["repeat_of"][0]


def test_external_id_is_unique_per_team_only(team, other_team):
    ExperimentFactory(team=team, external_id="run-1")
    ExperimentFactory.build(team=other_team, created_by=None, external_id="run-1").full_clean()
    clash = ExperimentFactory.build(team=team, created_by=None, external_id="run-1")
    assert "already has an experiment" in errors_of(clash)["external_id"][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        ExperimentFactory(team=team, external_id="run-1")


def test_blank_external_ids_do_not_clash(team):
    ExperimentFactory(team=team, external_id="")
    ExperimentFactory(team=team, external_id="")
    assert Experiment.objects.filter(team=team, external_id="").count() == 2


def test_duration_is_derived(team):
    start = timezone.now() - dt.timedelta(days=3)
    experiment = ExperimentFactory(team=team, started_at=start, succeeded=True)
    assert experiment.duration == dt.timedelta(days=1)
    assert format_duration(experiment.duration) == "1 day"
    assert format_duration(dt.timedelta(days=14, hours=3)) == "14 days"
    assert format_duration(dt.timedelta(hours=5)) == "5 hours"
    assert format_duration(None) == "ongoing"
    assert ExperimentFactory(team=team).duration is None


def test_metric_formatting():
    assert format_metric(0.52) == "0.52"
    assert format_metric(300) == "300"
    assert format_metric(1234.5) == "1,234.5"


def test_lesson_comes_from_exactly_one_source(team):
    experiment = ExperimentFactory(team=team)
    postmortem = PostMortemFactory(team=team)
    both = Lesson(team=team, text="x", experiment=experiment, postmortem=postmortem)
    assert "exactly one" in errors_of(both)["experiment"][0]
    neither = Lesson(team=team, text="x")
    assert "exactly one" in errors_of(neither)["experiment"][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Lesson.objects.create(team=team, text="x")


def test_lesson_belongs_to_its_source_team(team, other_team):
    lesson = Lesson(team=other_team, text="x", experiment=ExperimentFactory(team=team))
    assert "team" in errors_of(lesson)


def test_lesson_needs_text(team):
    assert "text" in errors_of(Lesson(team=team, text="  ", experiment=ExperimentFactory(team=team)))


def test_application_is_in_exactly_one_place(team):
    lesson = LessonFactory(experiment=ExperimentFactory(team=team))
    application = LessonApplication(lesson=lesson)
    assert "exactly one" in errors_of(application)["experiment"][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        LessonApplication.objects.create(lesson=lesson)


def test_a_lesson_is_not_applied_where_it_was_learned(team):
    lesson = LessonFactory(experiment=ExperimentFactory(team=team))
    application = LessonApplication(lesson=lesson, experiment=lesson.experiment)
    assert "learned from" in errors_of(application)["experiment"][0]


def test_a_lesson_is_not_applied_before_it_was_documented(team):
    lesson = LessonFactory(experiment=ExperimentFactory(team=team))
    application = LessonApplication(lesson=lesson, experiment=ExperimentFactory(team=team),
                                    applied_at=lesson.documented_at - dt.timedelta(days=1))
    assert "before it was documented" in errors_of(application)["applied_at"][0]


def test_restricted_postmortem_lessons_are_hidden_from_other_teams(team, member, outsider):
    open_lesson = LessonFactory(experiment=ExperimentFactory(team=team))
    secret = LessonFactory(experiment=None, postmortem=PostMortemFactory(team=team, restricted=True), team=team)
    assert set(Lesson.objects.visible_to(member)) == {open_lesson, secret}
    assert set(Lesson.objects.visible_to(outsider)) == {open_lesson}
    application = LessonApplicationFactory(lesson=open_lesson, experiment=None, postmortem=secret.postmortem)
    assert application not in LessonApplication.objects.visible_to(outsider)
    assert application in LessonApplication.objects.visible_to(member)


def test_search_matches_every_word_across_fields_and_lessons(team):
    hit = ExperimentFactory(team=team, title="Two-tower retrieval", hypothesis="ANN keeps latency low")
    by_lesson = ExperimentFactory(team=team, title="Other", hypothesis="h", approach="a")
    LessonFactory(experiment=by_lesson, text="Latency budgets matter for retrieval")
    LessonFactory(experiment=by_lesson, text="and a second lesson mentioning retrieval")
    ExperimentFactory(team=team, title="Unrelated", hypothesis="nothing", approach="here")
    assert list(Experiment.objects.search("retrieval latency").order_by("id")) == [hit, by_lesson]
