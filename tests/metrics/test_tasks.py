"""Tasks, the change signal and its debounce, the beat entry and the recompute command."""

import datetime as dt
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from learninghub.celery import app
from learninghub.insights.metrics import engine, scheduling
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.insights.metrics.tasks import recompute_all, recompute_recent_months, recompute_stale, recompute_team
from learninghub.kernel.events import ChangeSet, team_records_changed
from learninghub.kernel.periods import Month
from tests.factories import TeamFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.metrics.conftest import at

pytestmark = pytest.mark.django_db

NOVEMBER = dt.date(2025, 11, 1)


def test_beat_recomputes_recent_months_with_a_registered_task():
    entry = app.conf.beat_schedule["metrics-nightly-recompute"]
    assert entry["task"] == "metrics.tasks.recompute_recent_months"
    assert entry["task"] in app.tasks


def test_recompute_team_is_idempotent_and_touches_only_that_team(team, other_team):
    ExperimentFactory(team=team, started_at=at(2025, 11, 3), failed=True)
    ExperimentFactory(team=other_team, started_at=at(2025, 11, 3))
    recompute_team.delay(team.pk, ["2025-10", "2025-11"])
    first = list(MetricSnapshot.objects.order_by("month").values())
    recompute_team.delay(team.pk, ["2025-10", "2025-11"])
    second = list(MetricSnapshot.objects.order_by("month").values())
    assert len(first) == len(second) == 2
    assert {row["team_id"] for row in second} == {team.pk}
    for before, after in zip(first, second, strict=True):
        before.pop("computed_at"), after.pop("computed_at")
        assert before == after


def test_recompute_team_without_months_backfills_its_history(team):
    ExperimentFactory(team=team, started_at=at(2025, 1, 20))
    recompute_team.delay(team.pk)
    months = list(MetricSnapshot.objects.filter(team=team).values_list("month", flat=True))
    assert months[0] == dt.date(2025, 1, 1)
    assert months[-1] == Month.current().first_day
    assert len(months) == len(set(months))


def test_backfill_starts_at_the_first_record_on_the_first_day_of_a_month(team):
    # Earliest moments mix datetimes (started_at) and dates (due_date); one falls on a 1st.
    ExperimentFactory(team=team, started_at=at(2025, 3, 1))
    postmortem = PostMortemFactory(team=team, occurred_at=at(2025, 4, 10))
    ActionItemFactory(postmortem=postmortem, due_date=dt.date(2025, 5, 1))
    assert engine.data_months([team.pk])[0] == Month(2025, 3)
    assert engine.data_months()[0] == Month(2025, 3)
    recompute_team.delay(team.pk)
    months = list(MetricSnapshot.objects.filter(team=team).values_list("month", flat=True))
    assert months[0] == dt.date(2025, 3, 1) and months[-1] == Month.current().first_day


def test_backfill_covers_every_team_and_the_organisation_from_the_first_record(team, other_team):
    PostMortemFactory(team=other_team, occurred_at=at(2024, 6, 10))
    recompute_all.delay()
    for owner in (team, other_team, None):
        months = list(MetricSnapshot.objects.filter(team=owner).values_list("month", flat=True))
        assert months[0] == dt.date(2024, 6, 1) and months[-1] == Month.current().first_day
    recompute_all.delay()  # idempotent
    assert MetricSnapshot.objects.filter(team__isnull=True).count() == len(months)


@pytest.mark.parametrize(("now", "yesterday_month"), [
    (dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC), Month(2026, 11)),
    (dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC), Month(2026, 11)),  # the 1st: yesterday is last month
])
def test_recent_months_refresh_overdue_counts(team, clock, now, yesterday_month):
    clock.move_to(now)
    postmortem = PostMortemFactory(team=team)
    ActionItemFactory(postmortem=postmortem, due_date=now.date() - dt.timedelta(days=1), status="open")
    recompute_recent_months.delay()
    assert MetricSnapshot.objects.get(team=team, month=yesterday_month.first_day).action_items_overdue == 1
    current = Month.of(now)
    assert set(MetricSnapshot.objects.values_list("month", flat=True)) == {current.first_day,
                                                                             current.previous().first_day}


def test_a_change_marks_the_team_and_organisation_stale_then_recomputes(team, django_capture_on_commit_callbacks):
    ExperimentFactory(team=team, started_at=at(2025, 11, 3))
    with django_capture_on_commit_callbacks(execute=True):
        ChangeSet().moments(team.pk, at(2025, 11, 3)).emit()
    rows = MetricSnapshot.objects.filter(month=NOVEMBER)
    assert {row.team_id for row in rows} == {team.pk, None}
    assert all(not row.is_stale for row in rows), "in-process: the first change of a burst recomputes at once"
    assert rows.get(team=team).experiments_started == 1


def test_a_burst_of_100_changes_recomputes_once_in_process(team, django_capture_on_commit_callbacks):
    """Tasks in-process: the first change of the burst computes; the others only mark rows
    stale, and the page computes them lazily once."""
    with mock.patch.object(engine, "recompute_keys", wraps=engine.recompute_keys) as recompute:
        with django_capture_on_commit_callbacks(execute=True):
            for index in range(100):
                ExperimentFactory(team=team, started_at=at(2025, 11, 3) + dt.timedelta(minutes=index))
                ChangeSet().moments(team.pk, at(2025, 11, 3)).emit()
        assert recompute.call_count == 1
    assert MetricSnapshot.objects.get(team=team, month=NOVEMBER).is_stale


def test_a_burst_of_100_changes_enqueues_one_delayed_task_with_a_broker(team, settings):
    settings.METRICS_DEBOUNCE_SECONDS = 7
    app.conf.task_always_eager = False
    published = []

    def fake_enqueue(name, *args, countdown=None, **kwargs):
        published.append((name, countdown))
        return True

    with mock.patch.object(scheduling, "enqueue_durably", fake_enqueue), \
            mock.patch.object(engine, "recompute_keys", wraps=engine.recompute_keys) as recompute:
        for index in range(100):
            ExperimentFactory(team=team, started_at=at(2025, 11, 3) + dt.timedelta(minutes=index))
            team_records_changed.send(sender=None, team_id=team.pk, months=frozenset({NOVEMBER}))
        assert published == [("metrics.tasks.recompute_stale", 7)]
        assert recompute.call_count == 0
        assert scheduling.recompute_is_scheduled()

        recompute_stale()  # what the worker runs after the countdown
        assert recompute.call_count == 1
        assert not scheduling.recompute_is_scheduled(), "the run lets the next change schedule again"
        snapshot = MetricSnapshot.objects.get(team=team, month=NOVEMBER)
        assert not snapshot.is_stale and snapshot.experiments_started == 100

        team_records_changed.send(sender=None, team_id=team.pk, months=frozenset({NOVEMBER}))
        assert len(published) == 2


def test_a_change_that_lands_during_a_computation_leaves_the_row_stale(team):
    engine.mark_stale(team.pk, [NOVEMBER])
    real_collect = engine.collect

    def collect_while_someone_writes(*args, **kwargs):
        tallies = real_collect(*args, **kwargs)
        engine.mark_stale(team.pk, [NOVEMBER])
        return tallies

    with mock.patch.object(engine, "collect", collect_while_someone_writes):
        engine.recompute_stale()
    assert MetricSnapshot.objects.get(team=team, month=NOVEMBER).is_stale
    assert MetricSnapshot.objects.get(team__isnull=True, month=NOVEMBER).is_stale, "the organisation too"
    engine.recompute_stale()
    assert not MetricSnapshot.objects.stale().exists()


def test_changes_still_succeed_when_the_broker_is_down(team, broker_down, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ExperimentFactory(team=team, started_at=at(2025, 11, 3))
        ChangeSet().moments(team.pk, at(2025, 11, 3)).emit()
    snapshot = MetricSnapshot.objects.get(team=team, month=NOVEMBER)
    assert snapshot.is_stale, "nothing computed it, pages will"
    assert not scheduling.recompute_is_scheduled()


def test_recompute_metrics_command(team, capsys):
    TeamFactory(slug="search")
    ExperimentFactory(team=team, started_at=at(2025, 3, 3))
    call_command("recompute_metrics", "--team", "recsys", "--from", "2025-01", "--to", "2025-04")
    assert sorted(MetricSnapshot.objects.values_list("month", flat=True)) == [
        dt.date(2025, m, 1) for m in range(1, 5)]
    assert "4 snapshots" in capsys.readouterr().out
    call_command("recompute_metrics", "--from", "2025-03", "--to", "2025-03")
    assert MetricSnapshot.objects.filter(month=dt.date(2025, 3, 1)).count() == 3  # 2 teams + organisation
    call_command("recompute_metrics")
    assert MetricSnapshot.objects.filter(team__isnull=True).latest("month").month == Month.current().first_day


@pytest.mark.parametrize("args", [["--team", "nope"], ["--from", "2025-13"], ["--to", "soon"],
                                  ["--from", "2025-05", "--to", "2025-01"]])
def test_recompute_metrics_command_rejects_bad_arguments(team, args):
    with pytest.raises(CommandError):
        call_command("recompute_metrics", *args)


def test_a_burst_of_100_api_writes_causes_one_recomputation(member_api, team, django_capture_on_commit_callbacks):
    """End to end: the experiments API signals each write; the engine recomputes once."""
    with mock.patch.object(engine, "recompute_keys", wraps=engine.recompute_keys) as recompute:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            for index in range(100):
                response = member_api.post("/api/v1/experiments/", {
                    "team": "recsys", "title": f"Run {index}", "hypothesis": "Bigger is better",
                    "started_at": (at(2025, 11, 3) + dt.timedelta(minutes=index)).isoformat()})
                assert response.status_code == 201, response.content
        assert len(callbacks) >= 100, "every write announced its change"
        assert recompute.call_count == 1
    snapshot = MetricSnapshot.objects.get(team=team, month=NOVEMBER)
    assert snapshot.is_stale, "the rest of the burst is left for the next run or the page"
    engine.recompute_stale()
    assert MetricSnapshot.objects.get(team=team, month=NOVEMBER).experiments_started == 100
