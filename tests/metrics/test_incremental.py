"""Incremental recomputation (issue 15): exactly the stale team-months, in contiguous runs per
team, the organisation from its teams' stored counts — and the same figures as a full run."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.models import Computation, MetricSnapshot
from learninghub.insights.metrics.sql import percentile_cont
from learninghub.insights.metrics.tasks import recompute_recent_months, recompute_stale
from learninghub.kernel.events import ChangeSet
from learninghub.kernel.periods import Month
from postmortems.models import PostMortem
from tests.factories import TeamFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.metrics.conftest import at, make_lesson

pytestmark = pytest.mark.django_db

FIRST, LAST = Month(2024, 11), Month(2026, 11)  # the clock fixture's current month is the last
SPAN = Month.range(FIRST, LAST)
FIGURES = [f.attname for f in MetricSnapshot._meta.concrete_fields
           if f.attname not in {"id", "computed_at", "computed_by", "dirty_version", "computed_version"}]


@pytest.fixture
def world(clock, team, other_team, lesson_source):
    """Two years of records of three teams, every snapshot computed and fresh."""
    third = TeamFactory(slug="search", name="Search")
    for owner, hours in ((team, 3), (other_team, 11), (third, 40)):
        for month in (Month(2025, 1), Month(2025, 6), Month(2026, 3), Month(2026, 10)):
            earlier = ExperimentFactory(team=owner, failed=True, started_at=at(month.year, month.month, 2))
            ExperimentFactory(team=owner, failed=True, started_at=at(month.year, month.month, 9), repeat_of=earlier,
                              is_novel=True)
            for index in range(2):
                detected = at(month.year, month.month, 4 + index)
                postmortem = PostMortemFactory(team=owner, occurred_at=detected - dt.timedelta(hours=1),
                                               detected_at=detected,
                                               resolved_at=detected + dt.timedelta(hours=hours * (index + 1)))
                ActionItemFactory(postmortem=postmortem, due_date=dt.date(month.year, month.month, 20), status="done",
                                  completed_at=at(month.year, month.month, 18))
        make_lesson(owner, lesson_source, at(2025, 2, 10), applied_at=at(2025, 7, 1))
        make_lesson(owner, lesson_source, at(2025, 11, 10))
    engine.recompute(SPAN)
    assert not MetricSnapshot.objects.stale().exists()
    return {"third": third}


def stored() -> dict[tuple, dict]:
    return {(row["team_id"], row["month"]): {name: row[name] for name in FIGURES}
            for row in MetricSnapshot.objects.filter(month__lte=LAST.first_day).values()}


def from_scratch() -> dict[tuple, dict]:
    """What a full recompute of every month stores (into rows thrown away afterwards)."""
    saved = list(MetricSnapshot.objects.all())
    MetricSnapshot.objects.all().delete()
    try:
        engine.recompute(SPAN)
        return stored()
    finally:
        MetricSnapshot.objects.all().delete()
        MetricSnapshot.objects.bulk_create(saved)


def computed_at() -> dict[tuple, dt.datetime]:
    return {(team_id, month): moment for team_id, month, moment
            in MetricSnapshot.objects.values_list("team_id", "month", "computed_at")}


def test_only_the_stale_team_months_and_organisation_months_are_recomputed(world, team, clock):
    before = computed_at()
    clock.shift(dt.timedelta(minutes=5))
    ExperimentFactory(team=team, failed=True, started_at=at(2025, 1, 20))
    ExperimentFactory(team=team, started_at=at(2026, 10, 20))
    engine.mark_stale(team.pk, [Month(2025, 1), Month(2026, 10)])  # two months far apart
    assert recompute_stale.delay().get() == 4, "two team-months and two organisation months"
    after = computed_at()
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {(team.pk, dt.date(2025, 1, 1)), (team.pk, dt.date(2026, 10, 1)),
                       (None, dt.date(2025, 1, 1)), (None, dt.date(2026, 10, 1))}
    assert stored() == from_scratch()


def test_the_organisation_from_its_teams_stored_counts_is_exact(world, team, other_team):
    """Counts add up, means come from the summed hours, median and p90 from all post-mortems."""
    PostMortemFactory(team=other_team, occurred_at=at(2026, 3, 12), detected_at=at(2026, 3, 12, 13),
                      resolved_at=at(2026, 3, 20))
    engine.mark_stale(other_team.pk, [Month(2026, 3)])
    recompute_stale.delay()
    march = MetricSnapshot.objects.get(team__isnull=True, month=dt.date(2026, 3, 1))
    teams = list(MetricSnapshot.objects.filter(team__isnull=False, month=dt.date(2026, 3, 1)))
    assert march.postmortem_failures == sum(row.postmortem_failures for row in teams) == 7
    hours = [(pm.resolved_at - pm.detected_at).total_seconds() / 3600
             for pm in PostMortem.objects.filter(resolved_at__gte=at(2026, 3, 1), resolved_at__lt=at(2026, 4, 1))]
    assert march.failure_recovery_time_median == pytest.approx(percentile_cont(hours, 0.5))
    assert march.failure_recovery_time_p90 == pytest.approx(percentile_cont(hours, 0.9))
    assert march.failure_recovery_time == pytest.approx(sum(hours) / len(hours))
    assert stored() == from_scratch()


def test_a_lesson_written_in_the_past_recomputes_its_window_months_only(world, team, member,
                                                                          django_capture_on_commit_callbacks):
    from experiments import services

    source = team.experiments.order_by("started_at").first()
    with django_capture_on_commit_callbacks(execute=True):
        ChangeSet().moments(team.pk, at(2026, 11, 1)).emit()  # the first write of a burst takes the run
        services.lesson_create(text="Backdated", user=member, experiment=source, documented_at=at(2025, 5, 10))
    stale = set(MetricSnapshot.objects.stale().values_list("team_id", "month"))
    assert {month for _, month in stale} == {m.first_day for m in Month.range(Month(2025, 5), Month(2026, 5))}
    recompute_stale.delay()
    assert not MetricSnapshot.objects.stale().exists()
    assert stored() == from_scratch()


@pytest.mark.parametrize("far_runs", [1, 4])
def test_a_recomputation_runs_the_same_queries_however_many_runs(world, team, other_team,
                                                                 django_assert_num_queries, far_runs):
    months = [Month(2024, 12), Month(2025, 6), Month(2025, 11), Month(2026, 4)][:far_runs]
    engine.mark_stale(team.pk, months)
    engine.mark_stale(other_team.pk, [month.next() for month in months])
    # the stale keys, their versions, the teams, 7 grouped queries, then in a transaction (a
    # savepoint here) the teams' upsert, their stored counts, the organisation's percentiles
    # and its upsert.
    with django_assert_num_queries(15):
        recompute_stale()


def test_each_computation_is_recorded_on_its_snapshots(world, team, clock):
    november = Month(2026, 11)
    assert set(MetricSnapshot.objects.values_list("computed_by", flat=True)) == {Computation.MANUAL}
    recompute_recent_months.delay()
    assert set(MetricSnapshot.objects.filter(month__gte=november.previous().first_day)
               .values_list("computed_by", flat=True)) == {Computation.SCHEDULED}
    engine.mark_stale(team.pk, [Month(2026, 3)])
    recompute_stale.delay()
    assert MetricSnapshot.objects.get(team=team, month=dt.date(2026, 3, 1)).computed_by == Computation.EDIT
    assert MetricSnapshot.objects.get(team__isnull=True, month=dt.date(2026, 3, 1)).computed_by == Computation.EDIT
    assert MetricSnapshot.objects.get(team=team, month=dt.date(2026, 2, 1)).computed_by == Computation.MANUAL
    call_command("recompute_metrics", "--team", "recsys", "--from", "2026-03", "--to", "2026-03")
    assert MetricSnapshot.objects.get(team=team, month=dt.date(2026, 3, 1)).computed_by == Computation.MANUAL
