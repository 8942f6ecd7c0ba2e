"""The metrics API and the dashboards run a constant number of queries whatever the months shown
(issue 15: the API ran one per month, 16 for 12 months and 63 for 60). Exact baselines."""

from __future__ import annotations

import pytest

from learninghub.insights.metrics import engine
from learninghub.kernel.periods import Month
from tests.factories import TeamFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory
from tests.metrics.conftest import at

pytestmark = pytest.mark.django_db

LAST = Month(2026, 10)  # the last complete month by the clock fixture
# The token with its user, the team named (none for the organisation), the snapshots with their teams.
API_QUERIES = {"recsys": 3, None: 2}
TEAM_PAGE_QUERIES = 6
HOME_QUERIES = 7  # the month's snapshots whole, the other months' scores (SnapshotPoint)


@pytest.fixture
def history(clock, team, other_team):
    """61 months of records of two teams, every snapshot computed."""
    months = Month.range(LAST.shift(-60), LAST.next())
    for month in months[:-1]:
        for owner in (team, other_team):
            ExperimentFactory(team=owner, failed=True, started_at=at(month.year, month.month, 3))
            PostMortemFactory(team=owner, occurred_at=at(month.year, month.month, 5))
    engine.recompute(months)
    return months


@pytest.mark.parametrize("months", [1, 12, 60])
def test_the_metrics_api_runs_the_same_queries_for_any_number_of_months(member_api, history, months,
                                                                         django_assert_num_queries):
    params = {"from": LAST.shift(-(months - 1)).key, "to": LAST.key}
    assert member_api.get("/api/v1/metrics/").status_code == 200  # the token's first use is recorded once
    for team in ("recsys", None):
        with django_assert_num_queries(API_QUERIES[team]):
            response = member_api.get("/api/v1/metrics/", {**params, **({"team": team} if team else {})})
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) == months and body["live"] is False
        assert body["results"][-1]["team"] == team


@pytest.mark.parametrize("months", [1, 12, 60])
def test_the_team_dashboard_runs_the_same_queries_for_any_number_of_months(member_client, history, months,
                                                                            django_assert_num_queries):
    with django_assert_num_queries(TEAM_PAGE_QUERIES):
        response = member_client.get("/dashboards/recsys/", {"from": LAST.shift(-(months - 1)).key, "to": LAST.key})
    assert response.status_code == 200
    assert len(response.context["rows"]) == months and not response.context["status"]["live"]


@pytest.mark.parametrize("extra_teams", [0, 8])
def test_the_organisation_dashboard_runs_the_same_queries_for_any_number_of_teams(
        member_client, history, extra_teams, django_assert_num_queries):
    for index in range(extra_teams):
        TeamFactory(slug=f"team-{index}")
    engine.recompute(history)
    for month in (LAST, LAST.shift(-30)):
        with django_assert_num_queries(HOME_QUERIES):
            response = member_client.get("/", {"month": month.key})
        assert response.status_code == 200 and not response.context["status"]["live"]
