"""Services: lessons kept with their applications when lessons are replaced, upsert, signals
to the metrics engine, applied lessons, permissions."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from experiments import services
from experiments.models import Experiment, Lesson, LessonApplication, Outcome
from learninghub.kernel.concurrency import StaleVersionError
from learninghub.kernel.periods import Month
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db


def months(*moments):
    return frozenset(Month.of(moment) for moment in moments)


def test_create_validates_and_signals_the_affected_months(team, member, signalled,
                                                          django_capture_on_commit_callbacks):
    started = dt.datetime(2026, 3, 30, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        experiment = services.experiment_create(team=team, user=member, data={
            "title": "t", "hypothesis": "h", "started_at": started, "ended_at": started + dt.timedelta(days=5),
            "outcome": Outcome.FAILURE, "failure_kind": "productive"})
    assert experiment.created_by == member and experiment.version == 1
    assert (team.pk, months(started, started + dt.timedelta(days=5))) in signalled


def test_concluding_without_an_end_ends_now(team, member):
    experiment = services.experiment_create(team=team, user=member, data={
        "title": "t", "hypothesis": "h", "outcome": Outcome.SUCCESS})
    assert experiment.ended_at is not None and experiment.ended_at >= experiment.started_at


def test_a_failure_turned_into_a_success_loses_its_time_to_failure(team, member):
    experiment = ExperimentFactory(team=team, created_by=member, failed=True, time_to_failure=dt.timedelta(minutes=4))
    services.experiment_update(experiment=experiment, user=member,
                               data={"outcome": "success", "failure_kind": "", "failure_mode": ""})
    experiment.refresh_from_db()
    assert experiment.outcome == "success" and experiment.time_to_failure is None


def test_update_signals_old_and_new_months(team, member, signalled, django_capture_on_commit_callbacks):
    old_start = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    experiment = ExperimentFactory(team=team, started_at=old_start)
    new_start = dt.datetime(2026, 4, 10, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        services.experiment_update(experiment=experiment, user=member, data={"started_at": new_start})
    assert (team.pk, months(old_start, new_start)) in signalled


def test_stale_version_changes_nothing(team, member):
    experiment = ExperimentFactory(team=team, title="before")
    services.experiment_update(experiment=experiment, user=member, data={"title": "first"}, expected_version=1)
    with pytest.raises(StaleVersionError):
        services.experiment_update(experiment=Experiment.objects.get(pk=experiment.pk), user=member,
                                   data={"title": "second"}, expected_version=1)
    stored = Experiment.objects.get(pk=experiment.pk)
    assert (stored.title, stored.version) == ("first", 2)


def test_invalid_update_does_not_bump_the_version(team, member):
    experiment = ExperimentFactory(team=team)
    with pytest.raises(ValidationError):
        services.experiment_update(experiment=experiment, user=member, data={"metrics": {"ctr": "x"}},
                                   expected_version=1)
    assert Experiment.objects.get(pk=experiment.pk).version == 1


def test_outsiders_cannot_write(team, outsider):
    with pytest.raises(PermissionDenied):
        services.experiment_create(team=team, user=outsider, data={"title": "t", "hypothesis": "h"})
    experiment = ExperimentFactory(team=team)
    with pytest.raises(PermissionDenied):
        services.experiment_update(experiment=experiment, user=outsider, data={"title": "x"})


def test_only_leads_delete(team, member, lead, signalled, django_capture_on_commit_callbacks):
    experiment = ExperimentFactory(team=team, failed=True)
    with pytest.raises(PermissionDenied):
        services.experiment_delete(experiment=experiment, user=member)
    with django_capture_on_commit_callbacks(execute=True):
        services.experiment_delete(experiment=experiment, user=lead)
    assert not Experiment.objects.filter(pk=experiment.pk).exists()
    assert signalled and signalled[0][0] == team.pk


def test_upsert_creates_then_updates_the_same_record(team, member):
    first, created = services.experiment_upsert(team=team, external_id="run-7", user=member,
                                                data={"title": "t", "hypothesis": "h"})
    again, created_again = services.experiment_upsert(team=team, external_id="run-7", user=member,
                                                      data={"metrics": {"loss": 0.1}})
    assert created and not created_again and first.pk == again.pk
    assert Experiment.objects.get(pk=first.pk).metrics == {"loss": 0.1}
    assert Experiment.objects.filter(external_id="run-7").count() == 1


def test_lessons_replace_keeps_matched_lessons_and_their_applications(team, member, signalled,
                                                                      django_capture_on_commit_callbacks):
    experiment = ExperimentFactory(team=team)
    keep = LessonFactory(experiment=experiment, text="Keep me", position=0)
    drop = LessonFactory(experiment=experiment, text="Drop me", position=1)
    application = LessonApplicationFactory(lesson=keep, experiment=ExperimentFactory(team=team))
    documented = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        lessons = services.lessons_replace(team=team, experiment=experiment, user=member, lessons=[
            {"text": "Brand new", "documented_at": documented}, "Keep me"])
    assert [lesson.text for lesson in lessons] == ["Brand new", "Keep me"]
    assert lessons[1].pk == keep.pk and lessons[1].position == 1
    assert not Lesson.objects.filter(pk=drop.pk).exists()
    assert LessonApplication.objects.filter(pk=application.pk).exists()
    assert lessons[0].documented_at == documented and lessons[0].created_by == member
    assert any(Month.of(documented) in sent for _team, sent in signalled)


def test_lessons_replace_by_id_can_rewrite_the_text(team, member):
    experiment = ExperimentFactory(team=team)
    lesson = LessonFactory(experiment=experiment, text="Old wording")
    services.lessons_replace(team=team, experiment=experiment, user=member,
                             lessons=[{"id": lesson.pk, "text": "New wording"}])
    lesson.refresh_from_db()
    assert lesson.text == "New wording"


def test_lessons_replace_works_for_postmortems(team, member):
    postmortem = PostMortemFactory(team=team)
    lessons = services.lessons_replace(team=team, postmortem=postmortem, user=member,
                                       lessons=["Alert on schema changes", {"text": "Own the dead-letter topic"}])
    assert [lesson.postmortem_id for lesson in lessons] == [postmortem.pk, postmortem.pk]
    assert all(lesson.experiment_id is None and lesson.team == team for lesson in lessons)


def test_lessons_replace_refuses_a_foreign_lesson_id_and_a_wrong_team(team, other_team, member):
    experiment = ExperimentFactory(team=team)
    foreign = LessonFactory(experiment=ExperimentFactory(team=team))
    with pytest.raises(ValidationError):
        services.lessons_replace(team=team, experiment=experiment, user=member,
                                 lessons=[{"id": foreign.pk, "text": "steal"}])
    with pytest.raises(ValidationError):
        services.lessons_replace(team=other_team, experiment=experiment, user=None, lessons=["x"])


def test_applied_lessons_are_dated_when_the_experiment_started(team, other_team, member):
    source = ExperimentFactory(team=other_team, failed=True, started_at=timezone.now() - dt.timedelta(days=60))
    lesson = LessonFactory(experiment=source, documented_at=timezone.now() - dt.timedelta(days=50))
    started = timezone.now() - dt.timedelta(days=10)
    experiment = services.experiment_create(team=team, user=member, data={
        "title": "t", "hypothesis": "h", "started_at": started}, applied_lesson_ids=[lesson.pk])
    application = LessonApplication.objects.get(experiment=experiment)
    assert application.lesson == lesson and application.applied_at == started and application.applied_by == member
    services.experiment_update(experiment=experiment, user=member, data={}, applied_lesson_ids=[])
    assert not LessonApplication.objects.filter(experiment=experiment).exists()


def test_an_experiment_cannot_apply_its_own_lesson(team, member):
    experiment = ExperimentFactory(team=team)
    lesson = LessonFactory(experiment=experiment)
    with pytest.raises(ValidationError) as excinfo:
        services.experiment_update(experiment=experiment, user=member, data={}, applied_lesson_ids=[lesson.pk])
    assert "applied_lessons" in excinfo.value.message_dict


def test_lesson_apply_refuses_duplicates_and_needs_membership_where_applied(team, other_team, member, outsider):
    lesson = LessonFactory(experiment=ExperimentFactory(team=other_team))
    target = ExperimentFactory(team=team)
    services.lesson_apply(lesson=lesson, experiment=target, user=member, note="used it")
    with pytest.raises(ValidationError):
        services.lesson_apply(lesson=lesson, experiment=target, user=member)
    with pytest.raises(PermissionDenied):
        services.lesson_apply(lesson=lesson, experiment=ExperimentFactory(team=team), user=outsider)
