"""Phones and keyboards in Debian's chromium: no page scrolls sideways at 390 px (nor the list
pages at tablet width), dates in tables stay on one line, nothing is
fetched from outside the site (API docs included), the skip link, the collapsing menu, Enter in a
row field and the favicon.

The demo organisation (``seed_demo``) plus records with a very long title give every page
realistic content; one test walks all pages so the data is built once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from learninghub.kernel.models import Team
from tests.conftest import DEFAULT_NOW, sign_in
from tests.factories import DEFAULT_PASSWORD
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.clock(DEFAULT_NOW, tick=True)]

PHONE = {"width": 390, "height": 844}
DEMO_PASSWORD = "learn-from-failure"
# Long words and a long unbroken token: the kind of title that pushed pages sideways.
LONG_TITLE = ("Retraining the multilingual ranking model on deduplicated click logs after the "
              "tokenizer change broke the candidate generator "
              "cache_key_prefix_for_the_regional_recommendation_service_v2_rollout")
LONG_TEXT = " ".join([LONG_TITLE] * 6) + " https://example.invalid/" + "a" * 120
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass
class NetworkGuard:
    """Aborts and records every request that would leave this machine."""

    outside: list[str] = field(default_factory=list)

    def __call__(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


@pytest.fixture
def demo(clock):
    call_command("seed_demo", stdout=io.StringIO())
    alice = get_user_model().objects.get(username="alice")
    recsys = Team.objects.get(slug="recsys")
    experiment = ExperimentFactory(team=recsys, title=LONG_TITLE, hypothesis=LONG_TEXT, approach=LONG_TEXT,
                                   created_by=alice, failed=True)
    LessonFactory(experiment=experiment, text=LONG_TEXT)
    postmortem = PostMortemFactory(team=recsys, title=LONG_TITLE, what_happened=f"- {LONG_TEXT}",
                                   root_cause=f"- {LONG_TEXT}", created_by=alice)
    ActionItemFactory(postmortem=postmortem, owner=alice, description=LONG_TEXT)
    return {"experiment": experiment, "postmortem": postmortem, "team": recsys}


@pytest.fixture
def phone(browser, live_server):
    """A 390 px wide page whose outside requests are refused and recorded in ``phone.guard``."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(15_000)
    guard = NetworkGuard()
    context.route("**/*", guard)
    page = context.new_page()
    page.guard = guard
    yield page
    context.close()


def _outside_references(page) -> list[str]:
    """Stylesheets, fonts and scripts the document itself points outside the site at."""
    urls = page.eval_on_selector_all(
        "link[href], script[src]", "els => els.map(e => e.href || e.src)")
    return [url for url in urls if urlsplit(url).scheme in ("http", "https")
            and urlsplit(url).hostname not in LOCAL_HOSTS]


def _page_paths(page, demo) -> list[str]:
    nav = page.eval_on_selector_all("header nav a, header .usernav a", "els => els.map(e => e.getAttribute('href'))")
    experiment, postmortem, team = demo["experiment"], demo["postmortem"], demo["team"]
    details = [
        experiment.get_absolute_url(), f"/experiments/{experiment.pk}/edit/", "/experiments/new/",
        postmortem.get_absolute_url(), f"/postmortems/{postmortem.pk}/edit/", "/postmortems/new/",
        "/postmortems/import/", "/postmortems/action-items/", "/awards/cycles/", "/awards/hall-of-fame/",
        "/awards/people/alice/", "/search/?q=tokenizer", f"/dashboards/{team.slug}/", "/dashboards/",
        f"/teams/{team.slug}/", "/alerts/notifications/", f"/alerts/teams/{team.slug}/", "/api/redoc/",
    ]
    return list(dict.fromkeys([*nav, *details]))


def test_no_page_scrolls_sideways_on_a_phone_and_nothing_loads_from_outside(phone, demo):
    sign_in(phone, "alice", DEMO_PASSWORD)
    paths = _page_paths(phone, demo)
    assert {"/experiments/", "/postmortems/", "/teams/", "/api/docs/"} <= set(paths)
    too_wide, broken, outside, wrapped_dates = [], [], [], []
    for path in paths:
        response = phone.goto(path)  # "load": the page's scripts (charts included) have run
        if response is None or response.status >= 400:
            broken.append((path, response and response.status))
        if path.startswith("/api/docs/"):
            phone.wait_for_selector("#swagger-ui .opblock")
        elif path.startswith("/api/redoc/"):
            phone.wait_for_selector("#redoc-container h1")
        width, viewport = phone.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
        if width > viewport:
            too_wide.append((path, width))
        outside += [(path, url) for url in _outside_references(phone)]
        wrapped_dates += [(path, text) for text in phone.eval_on_selector_all(
            "table time, table .nowrap",
            "els => els.filter(e => { const r = document.createRange(); r.selectNodeContents(e);"
            " return new Set(Array.from(r.getClientRects(), x => Math.round(x.top))).size > 1; })"
            ".map(e => e.textContent)")]
    phone.set_viewport_size({"width": 820, "height": 1180})  # a tablet: the widest tables, no menu
    for path in ("/experiments/", "/postmortems/", "/postmortems/action-items/"):
        phone.goto(path)
        width, viewport = phone.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
        if width > viewport:
            too_wide.append((path, width))
    assert not broken, broken
    assert not too_wide, f"pages wider than the screen: {too_wide}"
    assert not phone.guard.outside, f"requests leaving the site: {phone.guard.outside}"
    assert not outside, f"outside stylesheets/scripts: {outside}"
    assert not wrapped_dates, f"dates wrapped in tables: {wrapped_dates}"


def test_the_menu_folds_on_a_phone(phone, member):
    sign_in(phone, member.username, DEFAULT_PASSWORD)
    toggle = phone.locator("[data-nav-toggle]")
    teams = phone.locator("header nav a", has_text="Teams")
    assert toggle.is_visible() and not teams.is_visible()
    toggle.click()
    assert teams.is_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    phone.keyboard.press("Escape")
    assert not teams.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(page, member):
    sign_in(page, member.username, DEFAULT_PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    assert page.locator(".skip-link").is_visible(), "it shows when focused"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    focus_ring = page.evaluate("""() => { const a = document.querySelector('header nav a');
      a.focus({focusVisible: true}); return getComputedStyle(a).outlineStyle; }""")
    assert focus_ring != "none", "keyboard focus is visible"


def _rows(page, selector: str) -> int:
    return page.locator(selector).count()


def test_enter_in_a_row_field_adds_a_row_instead_of_submitting(page, member):
    sign_in(page, member.username, DEFAULT_PASSWORD)
    page.goto("/experiments/new/")
    form_url = page.url
    for prefix, name in (("metrics", "metrics-0-name"), ("steps", "steps-0-text")):
        rows = f"[data-formset={prefix}] [data-rows] > [data-row]"
        before = _rows(page, rows)
        page.fill(f"input[name={name}]", "accuracy")
        page.press(f"input[name={name}]", "Enter")
        assert _rows(page, rows) == before + 1, prefix
        assert page.input_value(f"input[name={prefix}-TOTAL_FORMS]") == str(before + 1)
        assert page.evaluate("document.activeElement.name") == f"{prefix}-{before}-{name.split('-')[-1]}"
    assert page.url == form_url, "the form was not submitted"
    assert page.locator(".tz-note").first.inner_text() == f"Time zone: {settings.TIME_ZONE}"

    page.goto("/postmortems/new/")
    rows = "[data-formset-rows=items] > [data-formset-row]"
    before = _rows(page, rows)
    page.press("input[name=items-0-due_date]", "Enter")
    assert _rows(page, rows) == before + 1
    assert page.input_value("input[name=items-TOTAL_FORMS]") == str(before + 1)
    assert page.url.endswith("/postmortems/new/")
    assert page.locator("h1").inner_text() != "", "still on the form"
    page.fill("textarea[name=items-0-description]", "first line")
    page.press("textarea[name=items-0-description]", "Enter")
    assert _rows(page, rows) == before + 1, "Enter in a text area is a new line"


def test_favicon(page):
    page.goto("/accounts/login/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(icon).status == 200
    response = page.request.get("/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
