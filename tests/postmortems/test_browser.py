"""End to end in chromium: write a post-mortem with two action items through the form (adding
the second row with the "add" button), then see them on the owner's "My action items" and
change a status in place."""

import pytest

from postmortems.models import ActionItem, PostMortem
from tests.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_write_a_post_mortem_and_the_owner_sees_its_action_items(page):
    team = TeamFactory(name="Recommendations", slug="recsys")
    MembershipFactory(team=team, user=UserFactory(username="writer", first_name="Wanda", last_name="Writer"))
    MembershipFactory(team=team, user=UserFactory(username="owner", first_name="Otto", last_name="Owner"))

    sign_in(page, "writer", DEFAULT_PASSWORD)
    page.goto("/postmortems/new/")
    page.fill("#id_title", "Feature pipeline fed nulls to training")
    page.select_option("#id_severity", "sev2")
    page.fill("#id_occurred_at", "2026-03-02T02:00")
    page.fill("#id_detected_at", "2026-03-02T05:40")
    page.fill("#id_resolved_at", "2026-03-03T08:00")
    page.select_option("#id_status", "published")
    page.fill("#id_what_happened", "- A schema change upstream nulled a feature")
    page.fill("#id_items-0-description", "Add schema checks before training")
    page.locator("#id_items-0-owner").press_sequentially("Otto", delay=20)  # a type-ahead picker
    page.locator("#id_items-0-owner-results").get_by_role("option", name="Otto Owner (owner)").click()
    page.fill("#id_items-0-due_date", "2026-04-01")
    page.click("button[data-formset-add=items]")
    page.fill("#id_items-1-description", "Write the rollback runbook")
    page.locator("#id_items-1-owner").press_sequentially("Otto", delay=20)  # a type-ahead picker
    page.locator("#id_items-1-owner-results").get_by_role("option", name="Otto Owner (owner)").click()
    page.fill("#id_lessons-0-text", "Validate data at every boundary")
    page.click("form.postmortem-form button[type=submit]")

    page.wait_for_url("**/postmortems/*/")
    assert page.locator("h1").inner_text() == "Feature pipeline fed nulls to training"
    items_table = page.locator("#action-items table")
    assert items_table.is_visible()
    assert "Add schema checks before training" in items_table.inner_text()
    assert "Write the rollback runbook" in items_table.inner_text()
    assert PostMortem.objects.get().action_items.count() == 2

    page.context.clear_cookies()
    sign_in(page, "owner", DEFAULT_PASSWORD)
    page.goto("/postmortems/my-action-items/")
    rows = page.locator("table.action-items tbody tr")
    assert rows.count() == 2
    assert "Add schema checks before training" in rows.nth(0).inner_text()
    assert "Write the rollback runbook" in page.locator("table.action-items").inner_text()

    # Status changes in place: pick "Done", Save, and the badge updates without leaving the page.
    item = ActionItem.objects.get(description="Write the rollback runbook")
    url_before = page.url
    page.select_option(f"#item-status-{item.pk}", "done")
    page.locator(f'form[data-status-toggle="{item.pk}"] [data-status-submit]').click()
    page.locator(f'[data-item-status="{item.pk}"]', has_text="Done").wait_for()
    assert page.url == url_before
    item.refresh_from_db()
    assert item.status == "done" and item.completed_at is not None
