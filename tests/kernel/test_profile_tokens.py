"""Profile tokens: POST-redirect-GET shows a new key once, over-long names get a field message,
and (in chromium) a reload creates no second token and the copy button copies the key."""

import pytest
from django.urls import reverse

from learninghub.kernel.models import ApiToken, hash_token_key
from tests.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory

URL = "/profile/"


@pytest.mark.django_db
def test_creating_a_token_redirects_and_shows_the_key_once(member_client, member):
    response = member_client.post(URL, {"name": "training cluster"})
    assert response.status_code == 302 and response["Location"] == reverse("profile")
    shown = member_client.get(URL)
    key = shown.context["new_key"]
    assert ApiToken.objects.get(user=member).key_hash == hash_token_key(key)
    assert key in shown.content.decode() and "no-store" in shown["Cache-Control"]
    assert 'data-copy-target="new-token-key"' in shown.content.decode()
    again = member_client.get(URL)
    assert again.context["new_key"] is None and key not in again.content.decode()
    assert ApiToken.objects.filter(user=member).count() == 1


@pytest.mark.django_db
def test_an_over_long_name_is_refused_with_a_field_message(member_client, member):
    page = member_client.get(URL).content.decode()
    assert 'maxlength="100"' not in page, "the browser would cut the name silently"
    response = member_client.post(URL, {"name": "n" * 101})
    assert response.status_code == 200
    assert "Ensure this value has at most 100 characters (it has 101)." in response.content.decode()
    assert not ApiToken.objects.filter(user=member).exists()
    assert member_client.post(URL, {"name": "n" * 100}).status_code == 302
    assert ApiToken.objects.get(user=member).name == "n" * 100


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reload_after_creating_a_token_creates_none_and_copy_copies_the_key(page):
    user = UserFactory(username="browser-tess")
    MembershipFactory(user=user, team=TeamFactory(name="Recommendations", slug="recsys"))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, "browser-tess", DEFAULT_PASSWORD)
    page.goto(URL)
    page.fill("input[name=name]", "laptop")
    page.click("form.inline-form button[type=submit]")
    page.wait_for_url(lambda url: url.endswith(URL))
    key = page.locator("#new-token-key").inner_text()
    assert len(key) == 40
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.reload()
    assert page.locator("#new-token-key").count() == 0
    assert ApiToken.objects.filter(user=user).count() == 1
