"""The engine's shortcuts (issue 15) change no figure: the templated statements are the ORM's
own, and an unchanged recomputation leaves its rows alone."""

from __future__ import annotations

import datetime as dt

import pytest

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.models import Computation, MetricSnapshot
from learninghub.kernel.periods import Month
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.metrics.conftest import at, make_lesson

pytestmark = pytest.mark.django_db

QUERIES = [engine.STARTED, engine.FAILED, engine.OCCURRED, engine.RESOLVED, engine.LESSONS,
           engine.LESSONS_APPLIED, engine.FIRST_APPLICATIONS, engine.ITEMS]
# Several computations of each shape: every team, one team, teams with different runs.
SHAPES = [
    [[engine.Run(None, Month(2025, 1), Month(2025, 12))], [engine.Run(None, Month(2026, 3), Month(2026, 3))]],
    [[engine.Run((7,), Month(2026, 10), Month(2026, 10))], [engine.Run((3,), Month(2024, 2), Month(2024, 4))]],
    [[engine.Run((1, 2), Month(2024, 1), Month(2024, 1)), engine.Run((5,), Month(2025, 6), Month(2025, 8))],
     [engine.Run((4, 9), Month(2023, 11), Month(2024, 2)), engine.Run((2,), Month(2026, 1), Month(2026, 1))]],
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda query: query.base)
@pytest.mark.parametrize("computations", SHAPES, ids=["every-team", "one-team", "two-runs"])
def test_a_templated_statement_is_the_orms_own(query, computations):
    for days, runs in enumerate(computations):
        today = dt.date(2026, 11, 18) + dt.timedelta(days=days)
        assert engine._Template.statement(query, runs, today) == engine._compile(query.queryset(runs, today))
    shape = (engine.connection.vendor, query.base,
             query.field and tuple(None if run.team_ids is None else len(run.team_ids) for run in computations[0]))
    assert engine._Template._cache[shape] is not None, "the shape is templated"


def test_runs_that_name_no_team_match_nothing():
    assert engine.collect([engine.Run((), Month(2026, 1), Month(2026, 3))]) == {}
    assert engine.recompute([Month(2026, 1)], team_ids=[]) == 0


def test_an_unchanged_recomputation_writes_nothing_and_a_change_is_written(team, other_team, clock,
                                                                          django_assert_num_queries):
    ExperimentFactory(team=team, failed=True, started_at=at(2026, 9, 3))
    PostMortemFactory(team=other_team, occurred_at=at(2026, 9, 5))
    ActionItemFactory(postmortem__team=team, due_date=dt.date(2026, 9, 20))
    make_lesson(team, ExperimentFactory(team=team, started_at=at(2025, 1, 5)), at(2026, 2, 1), at(2026, 9, 2))
    months = [Month(2026, 8), Month(2026, 9), Month(2026, 10)]
    engine.recompute(months)
    before = {(row.team_id, row.month): row.computed_at for row in MetricSnapshot.objects.all()}
    clock.shift(dt.timedelta(minutes=5))
    # the stored rows, 6 grouped queries, the teams, the organisation's percentiles, and the
    # transaction (a savepoint here) with no upsert in it
    with django_assert_num_queries(11) as queries:
        assert engine.recompute(months) == len(before)
    assert not [query for query in queries.captured_queries if query["sql"].startswith("INSERT")]
    assert {(row.team_id, row.month): row.computed_at for row in MetricSnapshot.objects.all()} == before

    ExperimentFactory(team=team, started_at=at(2026, 9, 10))
    engine.recompute(months)
    after = {(row.team_id, row.month): row.computed_at for row in MetricSnapshot.objects.all()}
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {(team.pk, dt.date(2026, 9, 1)), (None, dt.date(2026, 9, 1))}
    assert MetricSnapshot.objects.get(team=team, month=dt.date(2026, 9, 1)).experiments_started == 2

    engine.recompute(months, computation=Computation.SCHEDULED)
    assert set(MetricSnapshot.objects.values_list("computed_by", flat=True)) == {Computation.SCHEDULED}, \
        "another computation rewrites its rows, figures unchanged or not"
