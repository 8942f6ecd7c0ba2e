"""End to end in chromium: record an experiment with two lessons through the form, see it listed."""

import datetime as dt

import factory
import pytest
from django.utils import timezone

from experiments.models import Experiment
from tests.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.factories.experiments import ExperimentFactory, LessonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_record_an_experiment_with_two_lessons_and_see_it_in_the_list(page):
    team = TeamFactory(name="Recommendations", slug="recsys")
    MembershipFactory(user=UserFactory(username="browser-mia"), team=team)
    earlier = LessonFactory(experiment=ExperimentFactory(team=team, title="Deep ranker"),
                            text="Latency is a product requirement",
                            documented_at=timezone.now() - dt.timedelta(days=90))
    # Newer lessons push it out of the picker's first screen: only the search can find it.
    source = ExperimentFactory(team=team, title="Sweep")
    LessonFactory.create_batch(35, experiment=source, text=factory.Sequence(lambda n: f"Filler lesson {n}"))
    sign_in(page, "browser-mia", DEFAULT_PASSWORD)

    page.goto("/experiments/")
    page.get_by_role("link", name="Record an experiment").click()
    page.fill("input[name=title]", "Two-tower retrieval")
    page.fill("textarea[name=hypothesis]", "An ANN index keeps the CTR gain within the latency budget")
    page.select_option("select[name=outcome]", "success")
    page.fill("input[name=metrics-0-name]", "ctr")
    page.fill("input[name=metrics-0-value]", "0.68")
    page.get_by_role("button", name="Add a metric").click()
    page.fill("input[name=metrics-1-name]", "latency_ms")
    page.fill("input[name=metrics-1-value]", "50")
    page.fill("textarea[name=lessons-0-text]", "Treat latency as a constraint from day one")
    page.get_by_role("button", name="Add a lesson").click()
    page.fill("textarea[name=lessons-1-text]", "Correct in-batch negatives for popularity")
    assert page.get_by_label("Latency is a product requirement").count() == 0
    page.fill("#lesson-search", "product requirement")
    page.get_by_label("Latency is a product requirement").check()
    assert not page.get_by_text("Filler lesson 1", exact=True).is_visible()
    page.get_by_role("button", name="Record experiment").click()

    page.wait_for_url(lambda url: "/experiments/new/" not in url)
    assert page.get_by_role("heading", name="Two-tower retrieval").is_visible()
    assert page.get_by_text("Treat latency as a constraint from day one").is_visible()
    assert page.get_by_text("Correct in-batch negatives for popularity").is_visible()
    experiment = Experiment.objects.get(title="Two-tower retrieval")
    assert experiment.metrics == {"ctr": 0.68, "latency_ms": 50}
    assert experiment.lessons.count() == 2
    assert experiment.lesson_applications.get().lesson == earlier

    page.goto("/experiments/")
    row = page.locator("tbody tr", has_text="Two-tower retrieval")
    assert row.is_visible()
    assert row.get_by_text("Success").is_visible()
    assert row.locator("td.num").inner_text() == "2"


def test_field_errors_keep_the_rows_typed(page):
    team = TeamFactory(name="Recommendations", slug="recsys")
    MembershipFactory(user=UserFactory(username="browser-leo"), team=team)
    sign_in(page, "browser-leo", DEFAULT_PASSWORD)
    page.goto("/experiments/new/")
    page.fill("input[name=title]", "Missing hypothesis")
    page.fill("input[name=metrics-0-name]", "ctr")
    page.fill("input[name=metrics-0-value]", "0.5")
    page.fill("textarea[name=lessons-0-text]", "Kept lesson")
    with page.expect_navigation():
        page.get_by_role("button", name="Record experiment").click()
    page.locator(".field.has-error").first.wait_for()
    assert page.get_by_text("This field is required.").first.is_visible()
    assert page.input_value("input[name=title]") == "Missing hypothesis"
    assert page.input_value("textarea[name=lessons-0-text]") == "Kept lesson"
    assert page.input_value("input[name=metrics-0-value]") == "0.5"
    assert not Experiment.objects.exists()
