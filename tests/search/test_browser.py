"""End to end in chromium: typing a hypothesis brings back the similar earlier experiment and its
lesson, one click marks "builds on" and "applies this lesson", and the type-ahead pickers set
"builds on" and a post-mortem's action-item owner."""

import pytest

from experiments.models import Experiment
from postmortems.models import PostMortem
from tests.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.factories.experiments import ExperimentFactory, LessonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def recsys():
    team = TeamFactory(name="Recommendations", slug="recsys")
    MembershipFactory(team=team, user=UserFactory(username="browser-mia"))
    return team


def fill_required(page):
    page.fill("input[name=started_at]", "2026-06-01T09:00")
    page.select_option("select[name=outcome]", "in_progress")


def test_typing_a_hypothesis_shows_the_similar_failure_and_one_click_links_it(page, recsys):
    earlier = ExperimentFactory(team=recsys, failed=True, title="Deep ranker for the home feed",
                                hypothesis="A deeper ranking network lifts click-through")
    lesson = LessonFactory(experiment=earlier, text="Latency is a product requirement")
    ExperimentFactory(team=recsys, title="Holiday banner colours", hypothesis="Red banners sell more gifts")
    sign_in(page, "browser-mia", DEFAULT_PASSWORD)

    page.goto("/experiments/new/")
    page.fill("input[name=title]", "Deeper ranker")
    page.locator("textarea[name=hypothesis]").press_sequentially("A deeper ranking network will lift clicks",
                                                                delay=10)
    panel = page.locator("[data-similar]")
    panel.get_by_text("1 similar experiment failed").wait_for()
    assert panel.get_by_role("link", name="Deep ranker for the home feed").is_visible()
    assert panel.get_by_text("Latency is a product requirement").first.is_visible()
    assert not panel.get_by_text("Holiday banner").count()

    panel.get_by_role("button", name="Builds on this").click()
    assert page.input_value("#id_builds_on").startswith("Deep ranker for the home feed · Recommendations")
    panel.get_by_role("button", name="Applies this lesson").click()
    assert page.get_by_label("Latency is a product requirement").is_checked()
    fill_required(page)
    page.get_by_role("button", name="Record experiment").click()

    page.wait_for_url(lambda url: "/experiments/new/" not in url)
    saved = Experiment.objects.get(title="Deeper ranker")
    assert saved.builds_on == earlier
    assert saved.lesson_applications.get().lesson == lesson


def test_the_type_ahead_picker_sets_builds_on(page, recsys):
    ExperimentFactory.create_batch(5, team=recsys)
    earlier = ExperimentFactory(team=recsys, succeeded=True, title="Two-tower retrieval baseline")
    sign_in(page, "browser-mia", DEFAULT_PASSWORD)

    page.goto("/experiments/new/")
    assert page.locator("select[name=builds_on]").count() == 0
    page.fill("input[name=title]", "Two-tower retrieval with hard negatives")
    page.fill("textarea[name=hypothesis]", "Hard negatives improve recall")
    page.get_by_label("Builds on").press_sequentially("two-tower", delay=20)
    option = page.get_by_role("option", name="Two-tower retrieval baseline")
    option.click()
    assert page.input_value("input[name=builds_on]") == str(earlier.pk)
    fill_required(page)
    page.get_by_role("button", name="Record experiment").click()

    page.wait_for_url(lambda url: "/experiments/new/" not in url)
    assert Experiment.objects.get(title="Two-tower retrieval with hard negatives").builds_on == earlier
    assert page.get_by_role("link", name="Two-tower retrieval baseline").first.is_visible()


def test_an_action_items_owner_is_picked_by_typing_a_name(page, recsys):
    otto = MembershipFactory(team=recsys, user=UserFactory(username="otto", first_name="Otto",
                                                           last_name="Owner")).user
    sign_in(page, "browser-mia", DEFAULT_PASSWORD)

    page.goto("/postmortems/new/")
    page.fill("#id_title", "Feature pipeline fed nulls to training")
    page.fill("#id_items-0-description", "Add schema checks before training")
    page.locator("#id_items-0-owner").press_sequentially("Otto", delay=20)
    page.get_by_role("option", name="Otto Owner (otto)").click()
    page.click("form.postmortem-form button[type=submit]")

    page.wait_for_url("**/postmortems/*/")
    assert PostMortem.objects.get().action_items.get().owner == otto
