"""The organisation dashboard (home) and the team dashboard: cards, drill-down links, charts,
empty states, query counts, and rendering with the broker down."""

import datetime as dt
import json
import re
from html import unescape

import pytest
from django.core.cache import cache
from django.urls import reverse

from learninghub.celery import app
from learninghub.insights.metrics import engine, scheduling
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.kernel.events import ChangeSet
from learninghub.kernel.periods import Month
from tests.factories import MembershipFactory, TeamFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.metrics.conftest import at, make_lesson

pytestmark = pytest.mark.django_db

NOVEMBER = dt.date(2025, 11, 1)
TEAM_URL = "/dashboards/recsys/?from=2025-06&to=2025-11"


@pytest.fixture
def november(team, other_team, lesson_source):
    """recsys in November 2025: 3 failed experiments (1 repeat) and 1 post-mortem."""
    earlier = ExperimentFactory(team=team, failed=True, started_at=at(2025, 6, 2), title="The first try")
    for day in range(3):
        ExperimentFactory(team=team, failed=True, started_at=at(2025, 11, 2 + day), title=f"Overfit {day}",
                          repeat_of=earlier if day == 0 else None, failure_kind="wasteful" if day else "productive")
    ExperimentFactory(team=team, started_at=at(2025, 11, 10), is_novel=True)
    postmortem = PostMortemFactory(team=team, occurred_at=at(2025, 11, 20), failure_mode="infrastructure")
    ActionItemFactory(postmortem=postmortem, due_date=dt.date(2025, 11, 25), status="open")
    make_lesson(team, lesson_source, at(2025, 3, 1), applied_at=at(2025, 4, 1))
    PostMortemFactory(team=other_team, occurred_at=at(2025, 11, 21))


def cell(row: dict, title: str):
    return next(each for each in row["cells"] if each.title == title)


def links(content: bytes) -> set[str]:
    return {unescape(href) for href in re.findall(r'href="([^"]+)"', content.decode())}


def figures(content: bytes) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="(chart-[\w-]+)-data">(.*?)</script>', content.decode(),
                       re.S)
    return {chart_id: json.loads(text) for chart_id, text in found}


def test_home_is_the_organisation_dashboard_with_the_teams(member_client, team, other_team, lead, november):
    response = member_client.get(reverse("home"), {"month": "2025-11"})
    assert response.status_code == 200
    assert "dashboards/organisation.html" in {template.name for template in response.templates}
    text = response.content.decode()
    assert "1 of 5 failures was a repeat" in text
    rows = {row["team"].slug: row for row in response.context["team_rows"]}
    assert rows["recsys"]["team"].member_count == 2 and rows["recsys"]["mine"]
    assert rows["data-platform"]["team"].member_count == 0 and not rows["data-platform"]["mine"]
    assert reverse("team-detail", args=["recsys"]) in text
    assert reverse("dashboards:team", args=["recsys"]) in text


def test_organisation_cards_link_to_the_records_behind_each_number(member_client, november):
    content = member_client.get("/", {"month": "2025-11"}).content
    hrefs = links(content)
    assert ("/experiments/?outcome=failure&ended_after=2025-11-01T00:00:00Z&ended_before=2025-12-01T00:00:00Z"
            "&repeat=true") in hrefs
    assert "/postmortems/?occurred_after=2025-11-01T00:00:00Z&occurred_before=2025-12-01T00:00:00Z" in hrefs
    assert "/experiments/?started_after=2025-11-01T00:00:00Z&started_before=2025-12-01T00:00:00Z&is_novel=true" in hrefs
    assert ("/experiments/lessons/?documented_after=2024-12-01T00:00:00Z&documented_before=2025-12-01T00:00:00Z"
            "&applied_before=2025-12-01T00:00:00Z") in hrefs
    assert "/postmortems/action-items/?due_after=2025-11-01&due_before=2025-12-01&overdue=true" in hrefs


def test_organisation_charts_link_to_team_dashboards(member_client, november):
    charts = figures(member_client.get("/", {"month": "2025-11"}).content)
    trend = charts["chart-team-scores"]
    recsys = next(trace for trace in trend["data"] if trace["name"] == "Recommendations")
    assert recsys["customdata"][-1] == "/dashboards/recsys/?from=2025-11&to=2025-11"
    comparison = charts["chart-team-comparison"]
    repeat = next(trace for trace in comparison["data"] if trace["name"] == "Repeat failure rate")
    assert repeat["x"] == ["Data Platform", "Recommendations"]
    assert repeat["y"] == [0.0, 0.25]
    assert repeat["customdata"][1] == ("/experiments/?team=recsys&outcome=failure&ended_after=2025-11-01T00:00:00Z"
                                       "&ended_before=2025-12-01T00:00:00Z&repeat=true")


def test_organisation_trend_draws_every_month_s_stored_score(member_client, team):
    """The trend's earlier months come from the scores alone (not whole snapshots): they must be
    the stored ones, month by month, with gaps where a month has no score."""
    history = seed_history(team, 6)
    charts = figures(member_client.get("/", {"month": history[-1].key}).content)
    recsys = next(trace for trace in charts["chart-team-scores"]["data"] if trace["name"] == team.name)
    stored = dict(MetricSnapshot.objects.filter(team=team).values_list("month", "learning_efficiency_score"))
    shown = Month.range(history[-1].shift(-11), history[-1])
    assert recsys["y"] == [stored.get(month.first_day) for month in shown]
    assert any(value is not None for value in recsys["y"][:-1]), "earlier months have scores"


def test_team_dashboard_cards_charts_and_table(member_client, november):
    response = member_client.get(TEAM_URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 of 4 failures was a repeat" in text
    charts = figures(response.content)
    assert {"chart-score", "chart-repeat", "chart-lessons", "chart-innovation", "chart-completion", "chart-velocity",
            "chart-recovery", "chart-modes", "chart-kinds", "chart-actions"} <= set(charts)
    modes = charts["chart-modes"]
    overfitting = next(trace for trace in modes["data"] if trace["name"] == "Overfitting · experiments")
    assert overfitting["x"][-1] == "Nov 2025" and overfitting["y"][-1] == 3
    assert overfitting["customdata"][-1] == ("/experiments/?team=recsys&outcome=failure&failure_mode=overfitting"
                                             "&ended_after=2025-11-01T00:00:00Z&ended_before=2025-12-01T00:00:00Z")
    infrastructure = next(t for t in modes["data"] if t["name"] == "Infrastructure · post-mortems")
    assert infrastructure["customdata"][-1] == ("/postmortems/?team=recsys&failure_mode=infrastructure"
                                                "&occurred_after=2025-11-01T00:00:00Z&occurred_before=2025-12-01T00:00:00Z")
    kinds = {trace["name"]: trace for trace in charts["chart-kinds"]["data"]}
    assert kinds["Wasteful"]["y"][-1] == 2
    assert "failure_kind=wasteful" in kinds["Wasteful"]["customdata"][-1]
    actions = {trace["name"]: trace for trace in charts["chart-actions"]["data"]}
    assert actions["Overdue"]["y"][-1] == 1
    assert actions["Overdue"]["customdata"][-1] == ("/postmortems/action-items/?team=recsys&due_after=2025-11-01"
                                                    "&due_before=2025-12-01&overdue=true")
    recovery = {trace["name"]: trace for trace in charts["chart-recovery"]["data"]}
    assert recovery["Recovery, median"]["y"][-1] == pytest.approx(20.0)
    rows = response.context["rows"]
    assert [row["month"] for row in rows] == ["Nov 2025", "Oct 2025", "Sep 2025", "Aug 2025", "Jul 2025", "Jun 2025"]
    assert rows[0]["cells"][0].title == "Learning efficiency score", "the score comes first"
    started = cell(rows[0], "Experiments started")
    assert (started.text, started.url) == ("4", "/experiments/?team=recsys&started_after=2025-11-01T00:00:00Z"
                                                "&started_before=2025-12-01T00:00:00Z")


def test_team_charts_are_readable(member_client, team, november):
    """The score's four ratios each get a chart; counts have whole-number ticks; bars carry no
    printed labels (they collided); the legend is above the plot; recovery shows median and p90."""
    charts = figures(member_client.get(TEAM_URL).content)
    for key in ("repeat", "lessons", "innovation", "completion"):
        assert len(charts[f"chart-{key}"]["data"]) == 1, key
        assert charts[f"chart-{key}"]["layout"]["yaxis"]["tickformat"] == ".0%"
    assert charts["chart-repeat"]["data"][0]["y"][-1] == 0.25
    for key in ("modes", "kinds", "actions"):
        axis = charts[f"chart-{key}"]["layout"]["yaxis"]
        assert axis["tickformat"] == ",d" and axis["dtick"] == 1, "a handful of failures: one tick per failure"
        assert all("text" not in trace for trace in charts[f"chart-{key}"]["data"])
    velocity = charts["chart-velocity"]["data"][0]
    assert velocity["textposition"] == "none" and velocity["hovertext"][-1] == "4 started"
    for figure in charts.values():
        layout = figure["layout"]
        assert layout["xaxis"]["automargin"] and layout["yaxis"]["automargin"], "no clipped labels"
        assert layout["legend"]["yanchor"] == "bottom" and layout["legend"]["y"] > 1
        assert all("_format" not in trace for trace in figure["data"])
    recovery = {trace["name"] for trace in charts["chart-recovery"]["data"]}
    assert recovery == {"Recovery, median", "Recovery, 90th percentile", "Time to detect, mean"}


def test_count_axes_stay_whole_numbers_when_counts_grow(member_client, team):
    for day in range(12):
        ExperimentFactory(team=team, failed=True, started_at=at(2025, 11, 1 + day), failure_mode="overfitting")
    charts = figures(member_client.get(TEAM_URL).content)
    axis = charts["chart-modes"]["layout"]["yaxis"]
    assert axis["tickformat"] == ",d" and "dtick" not in axis, "Plotly picks whole steps (2, 5…) past ten"


def test_one_outage_of_weeks_does_not_flatten_the_recovery_chart(member_client, team):
    for month in (6, 7, 8, 9, 10):
        occurred = at(2025, month, 3)
        PostMortemFactory(team=team, occurred_at=occurred, detected_at=occurred + dt.timedelta(hours=1),
                          resolved_at=occurred + dt.timedelta(hours=5))
    occurred = at(2025, 11, 1)
    PostMortemFactory(team=team, occurred_at=occurred, detected_at=occurred + dt.timedelta(hours=1),
                      resolved_at=occurred + dt.timedelta(days=25))
    recovery = figures(member_client.get(TEAM_URL).content)["chart-recovery"]
    assert recovery["layout"]["yaxis"]["type"] == "log"
    median = next(trace for trace in recovery["data"] if trace["name"] == "Recovery, median")
    assert median["y"] == [4.0, 4.0, 4.0, 4.0, 4.0, pytest.approx(599.0)]

    calm = figures(member_client.get("/dashboards/recsys/?from=2025-06&to=2025-10").content)["chart-recovery"]
    assert calm["layout"]["yaxis"].get("type") != "log", "a linear axis while values are alike"


def test_every_chart_has_its_data_as_a_table_for_screen_readers(member_client, november):
    for url in (TEAM_URL, "/?month=2025-11"):
        text = member_client.get(url).content.decode()
        chart_ids = re.findall(r'<div class="chart" data-chart="[\w-]+" id="([\w-]+)"', text)
        assert chart_ids
        for chart_id in chart_ids:
            assert f'id="{chart_id}" role="img"' in text
            assert f'aria-describedby="{chart_id}-table"' in text, chart_id
            assert f'<table class="table data-table" id="{chart_id}-table">' in text, chart_id
    text = member_client.get(TEAM_URL).content.decode()
    table = re.search(r'<table class="table data-table" id="chart-modes-table">(.*?)</table>', text, re.S).group(1)
    assert "<th scope=\"col\" class=\"num\">Overfitting · experiments</th>" in table
    assert '<tr><th scope="row">Nov 2025</th>' in table and '<td class="num">3</td>' in table
    kinds = re.search(r'id="chart-repeat-table">(.*?)</table>', text, re.S).group(1)
    assert '<td class="num">25%</td>' in kinds and '<td class="num">—</td>' in kinds


def test_names_in_the_tables_are_escaped(member_client, november):
    TeamFactory(name='<img src=x onerror="alert(1)">', slug="hostile")
    engine.recompute([Month.of(NOVEMBER)])
    ExperimentFactory(team__slug="hostile2", team__name="<b>bold</b>", started_at=at(2025, 11, 3))
    engine.recompute([Month.of(NOVEMBER)])
    text = member_client.get("/?month=2025-11").content.decode()
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "<img src=x" not in text


def test_the_month_by_month_table_starts_with_the_score(member_client, november):
    response = member_client.get(TEAM_URL)
    assert response.context["headings"][0] == "Score"
    text = response.content.decode()
    header = re.search(r'<table class="table metrics-table" id="month-table">\s*<thead><tr>(.*?)</tr>', text, re.S)
    assert re.findall(r"<th[^>]*>([^<]+)</th>", header.group(1))[:3] == ["Month", "Score", "Started"]
    assert '<div class="table-scroll">\n<table class="table metrics-table"' in text, "it scrolls inside its box"


def test_team_dashboard_explains_what_to_record_instead_of_empty_charts(member_client, team):
    response = member_client.get("/dashboards/recsys/")
    assert response.status_code == 200
    text = response.content.decode()
    assert figures(response.content) == {}
    assert "No experiments started in these months." in text
    assert "No post-mortem was resolved in these months." in text
    assert "Give the action items of post-mortems an owner and a due date" in text
    assert "main-svg" not in text


@pytest.mark.parametrize("query", ["from=garbage", "from=2025-11&to=2025-01", "to=2025-13", "from=1999-12",
                                   "from=2010-01&to=2025-11", "from=2010-01"])
def test_bad_month_ranges_show_an_error_and_the_default_range(member_client, team, query):
    response = member_client.get(f"/dashboards/recsys/?{query}")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert len(response.context["months"]) == 12


def test_a_nul_byte_in_the_range_is_refused_before_the_page(member_client, team):
    response = member_client.get("/dashboards/recsys/?from=%00")  # the request guard's 400, naming the field
    assert response.status_code == 400 and b"from" in response.content


def test_bad_month_on_home_shows_an_error(member_client, team):
    response = member_client.get("/?month=2025-99")
    assert response.status_code == 200
    assert response.context["form"].errors


def test_unknown_team_is_404_and_anonymous_users_sign_in_first(member_client, team):
    from django.test import Client

    assert member_client.get("/dashboards/nope/").status_code == 404
    response = Client().get("/dashboards/recsys/")
    assert response.status_code == 302 and reverse("login") in response.url


def seed_history(team, months: int) -> list[Month]:
    """``months`` months of records ending November 2025, with their snapshots computed."""
    november = Month.of(NOVEMBER)
    history = Month.range(november.shift(-(months - 1)), november)
    for month in history:
        ExperimentFactory(team=team, failed=True, started_at=at(month.year, month.month, 3))
        PostMortemFactory(team=team, occurred_at=at(month.year, month.month, 5))
    engine.recompute(Month.range(november.shift(-months), november))
    return history


# Session, user, the team, its snapshots, the other teams' names, repeat-review statistics (team page);
# session, user, teams with member counts, memberships, the month's snapshots, the other months'
# scores, statistics (home). The same whatever the months or teams shown.
TEAM_DASHBOARD_QUERIES = 6
HOME_QUERIES = 7


@pytest.mark.parametrize("history_months", [2, 48])
def test_team_dashboard_reads_snapshots_in_a_fixed_number_of_queries(member_client, team, other_team,
                                                                     django_assert_num_queries, history_months):
    history = seed_history(team, history_months)
    with django_assert_num_queries(TEAM_DASHBOARD_QUERIES):
        response = member_client.get(f"/dashboards/recsys/?from={history[0].key}&to=2025-11")
    assert response.status_code == 200
    assert len(response.context["rows"]) == history_months
    assert not response.context["status"]["live"]


@pytest.mark.parametrize("team_count", [1, 8])
def test_home_reads_snapshots_in_a_fixed_number_of_queries(member_client, team, django_assert_num_queries,
                                                           team_count):
    for index in range(team_count):
        TeamFactory(slug=f"team-{index}")
    seed_history(team, 12)
    with django_assert_num_queries(HOME_QUERIES):
        response = member_client.get("/?month=2025-11")
    assert response.status_code == 200
    assert not response.context["status"]["live"]


def test_pages_render_with_the_broker_unreachable_and_say_the_figures_are_live(
        member_client, team, november, broker_down, django_capture_on_commit_callbacks):
    engine.recompute(Month.range(Month(2025, 6), Month.of(NOVEMBER)))
    with django_capture_on_commit_callbacks(execute=True):
        ExperimentFactory(team=team, started_at=at(2025, 11, 12))
        ChangeSet().moments(team.pk, at(2025, 11, 12)).emit()
    assert MetricSnapshot.objects.get(team=team, month=NOVEMBER).is_stale
    response = member_client.get(TEAM_URL)
    assert response.status_code == 200
    assert 'data-status="live"' in response.content.decode()
    assert cell(response.context["rows"][0], "Experiments started").text == "5"
    assert not MetricSnapshot.objects.get(team=team, month=NOVEMBER).is_stale
    home = member_client.get("/?month=2025-11")
    assert home.status_code == 200


def test_stale_figures_are_shown_as_pending_while_a_recomputation_is_scheduled(member_client, team, november):
    engine.recompute(Month.range(Month(2025, 6), Month.of(NOVEMBER)), team_ids=[team.pk])
    engine.mark_stale(team.pk, [NOVEMBER])
    app.conf.task_always_eager = False
    cache.set(scheduling.SCHEDULED_KEY, "1", 60)
    response = member_client.get(TEAM_URL)
    assert 'data-status="pending"' in response.content.decode()
    assert MetricSnapshot.objects.get(team=team, month=NOVEMBER).is_stale, "left for the worker"


def test_a_new_team_gets_its_snapshots_computed_on_first_view(member_client, team):
    newcomer = TeamFactory(slug="newcomer", name="Newcomers")
    MembershipFactory(team=newcomer)
    response = member_client.get("/dashboards/newcomer/")
    assert response.status_code == 200 and response.context["status"]["live"]
    assert MetricSnapshot.objects.filter(team=newcomer).count() == 13, "12 complete months and the one in progress"
