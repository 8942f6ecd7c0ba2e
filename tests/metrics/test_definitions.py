"""The metric definitions of DESIGN.md, exactly: the worked example, nulls, rescaling, windows."""

import datetime as dt

import pytest

from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.insights.metrics.tasks import recompute_all, recompute_team
from tests.factories import TeamFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.metrics.conftest import at, make_lesson

pytestmark = pytest.mark.django_db

NOVEMBER = dt.date(2025, 11, 1)


def snapshot(team, month=NOVEMBER, months=("2025-11",)):
    """Recompute ``months`` through the tasks (in-process in tests) and read one snapshot
    (``team`` None: the organisation)."""
    if team is None:
        recompute_all.delay(list(months))
    else:
        recompute_team.delay(team.pk, list(months))
    return MetricSnapshot.objects.get(team=team, month=month)


def worked_example(team, lesson_source):
    """DESIGN.md: in November (30 days) 6 experiments start, 2 novel; 3 experiments fail and 1
    post-mortem occurs, 1 of these 4 failures repeats; 4 of 10 lessons of the last 365 days were
    applied before December 1."""
    earlier_failure = ExperimentFactory(team=team, failed=True, started_at=at(2025, 6, 2))
    for day in range(6):
        traits = {"failed": True} if day < 3 else {}
        ExperimentFactory(team=team, started_at=at(2025, 11, 2 + day), is_novel=day in (1, 4),
                          repeat_of=earlier_failure if day == 0 else None, **traits)
    PostMortemFactory(team=team, occurred_at=at(2025, 11, 20))
    for index in range(10):
        applied = at(2025, 11, 28) if index < 4 else None
        make_lesson(team, lesson_source, at(2024, 12, 5) + dt.timedelta(days=30 * index), applied_at=applied)


def test_the_design_worked_example(team, lesson_source):
    worked_example(team, lesson_source)
    s = snapshot(team)
    assert (s.experiments_started, s.experiments_novel) == (6, 2)
    assert (s.failures, s.experiment_failures, s.postmortem_failures, s.repeat_failures) == (4, 3, 1, 1)
    assert (s.lessons_in_window, s.lessons_applied) == (10, 4)
    assert s.experiment_velocity == pytest.approx(6 / (30 / 7))
    assert round(s.experiment_velocity, 4) == 1.4
    assert round(s.innovation_index, 4) == 0.3333
    assert round(s.repeat_failure_rate, 4) == 0.25
    assert round(s.lesson_application_rate, 4) == 0.4
    assert round(s.learning_efficiency_score, 4) == 0.4397


def test_velocity_divides_by_the_weeks_of_that_month(team):
    for day in range(4):
        ExperimentFactory(team=team, started_at=at(2025, 2, 3 + day))
    february = snapshot(team, dt.date(2025, 2, 1), ["2025-02"])
    assert february.experiment_velocity == pytest.approx(4 / (28 / 7)) == pytest.approx(1.0)


def test_a_month_without_records_has_zero_velocity_and_null_everything_else(team):
    ExperimentFactory(team=team, started_at=at(2025, 1, 10))  # a record elsewhere in time
    s = snapshot(team, dt.date(2025, 3, 1), ["2025-03"])
    assert s.experiment_velocity == 0
    assert s.innovation_index is None
    assert s.repeat_failure_rate is None
    assert s.lesson_application_rate is None
    assert s.failure_recovery_time is None
    assert s.failure_recovery_time_median is None and s.failure_recovery_time_p90 is None
    assert s.time_to_detect is None
    assert s.action_item_completion_rate is None
    assert s.learning_efficiency_score is None, "null when every component is null"


def test_each_rate_is_null_without_its_denominator_even_when_others_exist(team):
    ExperimentFactory(team=team, started_at=at(2025, 4, 3), is_novel=True)
    s = snapshot(team, dt.date(2025, 4, 1), ["2025-04"])
    assert s.innovation_index == 1.0
    assert s.repeat_failure_rate is None and s.lesson_application_rate is None
    assert s.action_item_completion_rate is None and s.failure_recovery_time is None


def test_null_components_are_left_out_and_the_weights_rescaled(team):
    # Only post-mortems this month: repeat rate 0.5, velocity 0, innovation and application null.
    first = PostMortemFactory(team=team, occurred_at=at(2025, 5, 2))
    PostMortemFactory(team=team, occurred_at=at(2025, 5, 20), repeat_of=first)
    s = snapshot(team, dt.date(2025, 5, 1), ["2025-05"])
    assert s.repeat_failure_rate == 0.5
    assert s.learning_efficiency_score == pytest.approx((0.3 * 0.5 + 0.2 * 0.0) / (0.3 + 0.2))


def test_rescaled_score_with_innovation_and_velocity_only(team):
    for day, novel in [(3, True), (10, False), (17, False)]:
        ExperimentFactory(team=team, started_at=at(2025, 7, day), is_novel=novel)
    s = snapshot(team, dt.date(2025, 7, 1), ["2025-07"])
    velocity = 3 / (31 / 7)
    assert s.learning_efficiency_score == pytest.approx((0.2 * (1 / 3) + 0.2 * (velocity / 10)) / 0.4)


def test_velocity_component_is_capped_at_one(team):
    for index in range(50):  # 50 in 30 days: 11.7 per week
        ExperimentFactory(team=team, started_at=at(2025, 9, 1) + dt.timedelta(hours=12 * index))
    s = snapshot(team, dt.date(2025, 9, 1), ["2025-09"])
    assert s.experiment_velocity > 10
    assert s.learning_efficiency_score == pytest.approx((0.2 * 0.0 + 0.2 * 1.0) / 0.4)


def test_the_lesson_window_is_the_365_days_before_the_months_end(team, lesson_source):
    end = at(2025, 12, 1, hour=0)
    make_lesson(team, lesson_source, end - dt.timedelta(days=365), applied_at=at(2025, 1, 5))  # first day: in
    make_lesson(team, lesson_source, end - dt.timedelta(days=366), applied_at=at(2025, 1, 5))  # 366 days: out
    make_lesson(team, lesson_source, end - dt.timedelta(seconds=1))  # last second: in, not applied
    make_lesson(team, lesson_source, at(2025, 6, 1), applied_at=end)  # applied at the end: too late
    make_lesson(team, lesson_source, at(2025, 6, 2), applied_at=at(2025, 12, 3))  # applied after: does not count
    make_lesson(team, lesson_source, end)  # documented at the end: next month's
    s = snapshot(team)
    assert s.lessons_in_window == 4
    assert s.lessons_applied == 1
    assert s.lesson_application_rate == 0.25


def test_a_lesson_counts_as_applied_once_however_often_it_was_applied(team, lesson_source):
    lesson = make_lesson(team, lesson_source, at(2025, 3, 1), applied_at=at(2025, 4, 1))
    from tests.factories.experiments import LessonApplicationFactory

    LessonApplicationFactory(lesson=lesson, experiment=lesson_source, applied_at=at(2025, 4, 1))
    LessonApplicationFactory(lesson=lesson, experiment=lesson_source, applied_at=at(2025, 5, 1))
    s = snapshot(team)
    assert (s.lessons_in_window, s.lessons_applied) == (1, 1)


def test_lesson_window_counts_over_a_range_of_months(team, lesson_source):
    make_lesson(team, lesson_source, at(2024, 1, 15), applied_at=at(2024, 3, 10))
    recompute_team.delay(team.pk, None)
    rows = {s.month: (s.lessons_in_window, s.lessons_applied)
            for s in MetricSnapshot.objects.filter(team=team, month__lt=dt.date(2025, 3, 1))}
    assert rows[dt.date(2024, 1, 1)] == (1, 0)
    assert rows[dt.date(2024, 2, 1)] == (1, 0)
    assert rows[dt.date(2024, 3, 1)] == (1, 1)
    assert rows[dt.date(2024, 12, 1)] == (1, 1)
    assert rows[dt.date(2025, 1, 1)] == (0, 0), "documented 2024-01-15: out of January 2025's window"


def test_recovery_and_detection_times_over_posts_mortems_resolved_in_the_month(team):
    for occurred_day, detect_hours, recover_hours in [(3, 1, 2), (10, 2, 4), (17, 3, 12)]:
        occurred = at(2025, 8, occurred_day)
        PostMortemFactory(team=team, occurred_at=occurred, detected_at=occurred + dt.timedelta(hours=detect_hours),
                          resolved_at=occurred + dt.timedelta(hours=detect_hours + recover_hours))
    occurred = at(2025, 7, 31, hour=20)  # occurred in July, resolved in August
    PostMortemFactory(team=team, occurred_at=occurred, detected_at=occurred + dt.timedelta(hours=1),
                      resolved_at=occurred + dt.timedelta(hours=9))
    PostMortemFactory(team=team, occurred_at=at(2025, 8, 20), detected_at=None, resolved_at=at(2025, 8, 21))
    PostMortemFactory(team=team, occurred_at=at(2025, 8, 25), resolved_at=None)  # unresolved
    s = snapshot(team, dt.date(2025, 8, 1), ["2025-07", "2025-08"])
    assert s.postmortems_resolved == 5
    assert s.recovery_time_samples == 4  # recovery hours 2, 4, 12, 8
    assert s.failure_recovery_time == pytest.approx(6.5)
    assert s.failure_recovery_time_median == pytest.approx(6.0)
    assert s.failure_recovery_time_p90 == pytest.approx(8 + 0.7 * (12 - 8))  # percentile_cont
    assert s.time_to_detect_samples == 4
    assert s.time_to_detect == pytest.approx((1 + 2 + 3 + 1) / 4)


def test_action_items_done_on_or_before_their_due_date(team):
    postmortem = PostMortemFactory(team=team, occurred_at=at(2025, 9, 1))
    due = dt.date(2025, 10, 15)
    ActionItemFactory(postmortem=postmortem, due_date=due, status="done",
                      completed_at=dt.datetime(2025, 10, 15, 23, 30, tzinfo=dt.UTC))  # on the day: on time
    ActionItemFactory(postmortem=postmortem, due_date=due, status="done",
                      completed_at=dt.datetime(2025, 10, 16, 0, 30, tzinfo=dt.UTC))  # a day late
    ActionItemFactory(postmortem=postmortem, due_date=due, status="open")
    ActionItemFactory(postmortem=postmortem, due_date=due, status="in_progress")
    ActionItemFactory(postmortem=postmortem, due_date=due, status="wont_do")
    ActionItemFactory(postmortem=postmortem, due_date=dt.date(2025, 11, 1), status="done",
                      completed_at=at(2025, 10, 20))  # due next month
    s = snapshot(team, dt.date(2025, 10, 1), ["2025-10"])
    assert s.action_items_due == 5
    assert (s.action_items_done, s.action_items_done_on_time, s.action_items_wont_do) == (2, 1, 1)
    assert (s.action_items_open, s.action_items_in_progress, s.action_items_overdue) == (1, 1, 2)
    assert s.action_item_completion_rate == pytest.approx(1 / 5)


def test_failures_are_counted_by_mode_and_kind_in_the_month_they_ended(team):
    ExperimentFactory(team=team, failed=True, started_at=at(2025, 9, 28), ended_at=at(2025, 10, 2),
                      failure_mode="data_quality", failure_kind="system")
    ExperimentFactory(team=team, failed=True, started_at=at(2025, 10, 5), failure_mode="", failure_kind="wasteful")
    ExperimentFactory(team=team, started_at=at(2025, 10, 6))  # in progress: not a failure
    ExperimentFactory(team=team, succeeded=True, started_at=at(2025, 10, 7))
    PostMortemFactory(team=team, occurred_at=at(2025, 10, 9), failure_mode="data_quality", restricted=True)
    s = snapshot(team, dt.date(2025, 10, 1), ["2025-09", "2025-10"])
    assert (s.failures, s.experiment_failures, s.postmortem_failures) == (3, 2, 1)
    assert s.failures_by_mode == {"data_quality": 2, "unspecified": 1}
    assert s.experiment_failures_by_mode == {"data_quality": 1, "unspecified": 1}
    assert s.postmortem_failures_by_mode == {"data_quality": 1}
    assert s.failures_by_kind == {"system": 1, "wasteful": 1}
    september = MetricSnapshot.objects.get(team=team, month=dt.date(2025, 9, 1))
    assert september.failures == 0 and september.experiments_started == 1


def test_restricted_post_mortems_count(team):
    PostMortemFactory(team=team, occurred_at=at(2025, 6, 3), restricted=True)
    assert snapshot(team, dt.date(2025, 6, 1), ["2025-06"]).postmortem_failures == 1


def test_months_are_utc_calendar_months(team):
    ExperimentFactory(team=team, started_at=dt.datetime(2025, 10, 31, 23, 59, 59, tzinfo=dt.UTC))
    ExperimentFactory(team=team, started_at=dt.datetime(2025, 11, 1, 0, 0, 0, tzinfo=dt.UTC))
    ExperimentFactory(team=team, started_at=dt.datetime(2025, 11, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    recompute_team.delay(team.pk, ["2025-10", "2025-11"])
    counts = dict(MetricSnapshot.objects.filter(team=team).values_list("month", "experiments_started"))
    assert counts == {dt.date(2025, 10, 1): 2, NOVEMBER: 1}


def test_the_organisation_is_computed_over_all_records_not_averaged(team):
    other = TeamFactory(slug="search")
    first = PostMortemFactory(team=team, occurred_at=at(2025, 11, 3))  # recsys: 2 failures, 1 repeat
    PostMortemFactory(team=team, occurred_at=at(2025, 11, 4), repeat_of=first)
    for day in (5, 6, 7, 8, 9, 10):  # search: 6 failures, no repeat
        PostMortemFactory(team=other, occurred_at=at(2025, 11, day))
    for day in range(7):
        ExperimentFactory(team=other, started_at=at(2025, 11, 1 + day), is_novel=day == 0)
    ExperimentFactory(team=team, started_at=at(2025, 11, 2), is_novel=True)
    organisation = snapshot(None)
    recsys = MetricSnapshot.objects.get(team=team, month=NOVEMBER)
    search = MetricSnapshot.objects.get(team=other, month=NOVEMBER)
    assert recsys.repeat_failure_rate == 0.5 and search.repeat_failure_rate == 0.0
    assert organisation.repeat_failure_rate == pytest.approx(1 / 8)
    assert organisation.repeat_failure_rate != pytest.approx((0.5 + 0.0) / 2)
    assert organisation.innovation_index == pytest.approx(2 / 8)
    assert organisation.innovation_index != pytest.approx((1.0 + 1 / 7) / 2)
    assert organisation.experiment_velocity == pytest.approx(8 / (30 / 7))
    assert organisation.failure_recovery_time_median == pytest.approx(20.0)


def test_the_organisations_median_is_over_all_post_mortems(team):
    other = TeamFactory(slug="search")
    for hours, owner in [(1, team), (2, team), (3, other), (10, other), (20, other)]:
        occurred = at(2025, 11, 5)
        PostMortemFactory(team=owner, occurred_at=occurred, detected_at=occurred,
                          resolved_at=occurred + dt.timedelta(hours=hours))
    organisation = snapshot(None)
    assert organisation.failure_recovery_time_median == pytest.approx(3.0)  # not the mean of 1.5 and 10
    assert organisation.failure_recovery_time == pytest.approx(36 / 5)
