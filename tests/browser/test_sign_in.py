"""End to end in Debian's chromium: sign in with the form and see the home page."""

import pytest

from tests.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_with_the_form_and_see_the_home_page(page):
    user = UserFactory(username="browser-bob", first_name="Bob", last_name="Browser")
    MembershipFactory(user=user, team=TeamFactory(name="Recommendations", slug="recsys"))
    page.goto("/")
    assert "/accounts/login/" in page.url, "anonymous visitors are sent to sign in"
    sign_in(page, "browser-bob", DEFAULT_PASSWORD)
    assert page.locator("header .usernav").inner_text().startswith("Bob Browser")
    assert page.get_by_text("Recommendations").first.is_visible()


def test_wrong_password_shows_an_error(page):
    UserFactory(username="browser-eve")
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "browser-eve")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.get_by_text("Please enter a correct username and password").is_visible()
    assert page.input_value("input[name=username]") == "browser-eve"
