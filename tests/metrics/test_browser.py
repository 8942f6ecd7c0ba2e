"""In Chromium: the team dashboard draws its Plotly charts, and numbers and bars open the
records behind them."""

import pytest

from learninghub.insights.metrics import engine
from learninghub.kernel.periods import Month
from tests.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory
from tests.metrics.conftest import at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DASHBOARD = "/dashboards/recsys/?from=2025-08&to=2025-11"
FAILED_IN_NOVEMBER = ("/experiments/?team=recsys&outcome=failure&ended_after=2025-11-01T00:00:00Z"
                      "&ended_before=2025-12-01T00:00:00Z")


@pytest.fixture
def signed_in_page(page):
    team = TeamFactory(name="Recommendations", slug="recsys")
    user = UserFactory(username="dash-dana")
    MembershipFactory(user=user, team=team)
    ExperimentFactory(team=team, failed=True, started_at=at(2025, 9, 2), title="September overfit")
    for day in range(3):
        ExperimentFactory(team=team, failed=True, started_at=at(2025, 11, 2 + day), title=f"November overfit {day}",
                          failure_mode="overfitting")
    PostMortemFactory(team=team, occurred_at=at(2025, 11, 20), title="Feature store outage",
                      failure_mode="overfitting")
    engine.recompute(Month.range(Month(2025, 8), Month(2025, 11)))
    sign_in(page, "dash-dana", DEFAULT_PASSWORD)
    return page


def test_team_dashboard_draws_its_charts(signed_in_page):
    page = signed_in_page
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    page.goto(DASHBOARD)
    for chart in ("score", "repeat", "innovation", "velocity", "modes", "kinds", "recovery"):
        page.locator(f"#chart-{chart}.chart-ready").wait_for()
        assert page.locator(f"#chart-{chart} .main-svg").count() >= 1
    assert page.locator("[data-empty=actions]").is_visible(), "no action items: an empty state, not a chart"
    assert violations == [], "the charts draw under the strict Content-Security-Policy"


def test_the_mode_bar_shows_only_while_hovering_a_chart(signed_in_page):
    page = signed_in_page
    page.goto(DASHBOARD)
    page.locator("#chart-score.chart-ready").wait_for()
    page.mouse.move(1, 1)
    opacity = "el => getComputedStyle(el).opacity"
    buttons = page.locator("#chart-score .modebar-group").first
    assert buttons.evaluate(opacity) == "0"
    page.locator("#chart-score .main-svg").first.hover()
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#chart-score .modebar-group')).opacity === '1'")


def test_each_chart_is_described_by_its_data_table(signed_in_page):
    page = signed_in_page
    page.goto(DASHBOARD)
    chart = page.locator("#chart-modes")
    chart.locator(".main-svg").first.wait_for()
    table = page.locator(f"#{chart.get_attribute('aria-describedby')}")
    assert not table.is_visible(), "folded under the chart"
    page.locator("#chart-modes ~ details.chart-data > summary").click()
    assert table.is_visible()
    assert table.locator("tr", has_text="Nov 2025").locator("td").first.inner_text() == "3"


def test_a_number_opens_the_records_behind_it(signed_in_page):
    page = signed_in_page
    page.goto(DASHBOARD)
    page.locator("table.metrics-table tbody tr").first.locator("td[title='Failed experiments'] a").click()
    page.wait_for_url(lambda url: "/experiments/" in url)
    assert page.url.endswith(FAILED_IN_NOVEMBER)
    assert page.get_by_text("November overfit 1").first.is_visible()
    assert page.get_by_text("September overfit").count() == 0


def test_clicking_a_failure_mode_bar_opens_those_failures(signed_in_page):
    page = signed_in_page
    page.goto(DASHBOARD)
    page.locator("#chart-modes.chart-ready").wait_for()
    # Traces: overfitting experiments, then overfitting post-mortems stacked on them.
    bars = page.locator("#chart-modes .trace.bars").nth(0).locator(".point path")
    november = bars.last
    november.scroll_into_view_if_needed()
    box = november.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(lambda url: "/experiments/" in url)
    assert page.url.endswith("/experiments/?team=recsys&outcome=failure&failure_mode=overfitting"
                             "&ended_after=2025-11-01T00:00:00Z&ended_before=2025-12-01T00:00:00Z")
    assert page.get_by_text("November overfit 2").first.is_visible()
