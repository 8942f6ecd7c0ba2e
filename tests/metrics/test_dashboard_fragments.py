"""The dashboards' charts and tables are drawn once per set of figures (``metrics.fragments``):
the same figures are served without drawing again, and any change to what they show (a
recomputed figure, a renamed team, other months) draws them anew."""

import pytest
from django.urls import reverse

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.kernel.periods import Month
from tests.factories.experiments import ExperimentFactory
from tests.metrics.conftest import at
from tests.metrics.test_dashboards import NOVEMBER, TEAM_URL, figures, november  # noqa: F401  (fixture)
from tests.metrics.test_revalidate import status_of, worker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("november")]

TEAM_FIGURES = "dashboards/_team_figures.html"
ORGANISATION_CHARTS = "dashboards/_organisation_charts.html"


def drew(response, template: str) -> bool:
    return template in {each.name for each in response.templates}


def november_started(response) -> int:
    return figures(response.content)["chart-velocity"]["data"][0]["hovertext"][-1]


def test_the_same_figures_are_served_without_drawing_them_again(member_client):
    first = member_client.get(TEAM_URL)
    again = member_client.get(TEAM_URL)
    assert drew(first, TEAM_FIGURES) and not drew(again, TEAM_FIGURES)
    assert figures(again.content) == figures(first.content)
    assert 'id="month-table"' in again.content.decode()
    assert november_started(again) == "4 started"


def test_a_recomputed_figure_is_drawn_anew(member_client, team):
    member_client.get(TEAM_URL)
    ExperimentFactory(team=team, started_at=at(2025, 11, 12))
    engine.mark_stale(team.pk, [NOVEMBER])  # what the write's change set does; the page then recomputes it
    response = member_client.get(TEAM_URL)
    assert drew(response, TEAM_FIGURES)
    assert november_started(response) == "5 started"


@pytest.mark.usefixtures("worker")
def test_a_stale_snapshot_is_served_with_its_drawing_until_it_is_recomputed(member_client, team):
    """Marking a snapshot stale changes nothing it shows (only the status line says so), so the
    page served while a worker recomputes reuses the drawing; the recompute draws it anew."""
    member_client.get(TEAM_URL)
    ExperimentFactory(team=team, started_at=at(2025, 11, 12))
    engine.mark_stale(team.pk, [NOVEMBER])
    stale = member_client.get(TEAM_URL)
    assert status_of(stale) == "pending" and not drew(stale, TEAM_FIGURES)
    assert november_started(stale) == "4 started"
    engine.recompute_stale()
    fresh = member_client.get(TEAM_URL)
    assert status_of(fresh) != "pending" and drew(fresh, TEAM_FIGURES)
    assert november_started(fresh) == "5 started"


def test_any_stored_value_that_changes_draws_anew(member_client, team):
    """Not only the engine's bookkeeping: every value of a snapshot shown is part of the key."""
    member_client.get(TEAM_URL)
    MetricSnapshot.objects.filter(team=team, month=NOVEMBER).update(experiments_started=7)
    assert november_started(member_client.get(TEAM_URL)) == "7 started"


def test_other_months_are_other_drawings(member_client):
    member_client.get(TEAM_URL)
    response = member_client.get("/dashboards/recsys/?from=2025-09&to=2025-11")
    assert drew(response, TEAM_FIGURES)
    assert figures(response.content)["chart-velocity"]["data"][0]["x"] == ["Sep 2025", "Oct 2025", "Nov 2025"]


def test_the_organisation_charts_follow_the_figures_and_the_team_names(member_client, team):
    home = reverse("home")
    first = member_client.get(home, {"month": "2025-11"})
    assert drew(first, ORGANISATION_CHARTS)
    assert not drew(member_client.get(home, {"month": "2025-11"}), ORGANISATION_CHARTS)
    team.name = "Ranking and retrieval"
    team.save()
    renamed = member_client.get(home, {"month": "2025-11"})
    assert drew(renamed, ORGANISATION_CHARTS)
    trend = figures(renamed.content)["chart-team-scores"]
    assert "Ranking and retrieval" in {trace["name"] for trace in trend["data"]}


def test_the_organisation_charts_follow_a_recompute(member_client, team):
    home = reverse("home")
    before = figures(member_client.get(home, {"month": "2025-11"}).content)["chart-team-comparison"]
    for day in range(4):
        ExperimentFactory(team=team, started_at=at(2025, 11, 14 + day), is_novel=True)
    engine.recompute([Month(2025, 11)])
    after = figures(member_client.get(home, {"month": "2025-11"}).content)["chart-team-comparison"]
    assert after != before
