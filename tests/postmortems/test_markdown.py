"""The Markdown template: import (page and API), unknown and missing sections reported, and
export → import round trips."""

import datetime as dt

import pytest
from django.urls import reverse

from experiments.models import Lesson
from postmortems.models import ActionItem, PostMortem
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.postmortems.helpers import FEATURE_PIPELINE_MARKDOWN, THE_TEMPLATE

pytestmark = pytest.mark.django_db

IMPORT_PAGE = reverse("postmortems:import")
IMPORT_API = "/api/v1/postmortems/import-markdown/"


def test_the_exact_template_imports_through_the_page(member_client, team):
    response = member_client.post(IMPORT_PAGE, {"team": team.pk, "markdown": THE_TEMPLATE})
    assert response.status_code == 200
    assert response.context["form"].initial["title"] == "<title>"
    assert response.context["warnings"] == []
    assert not PostMortem.objects.exists(), "the import only pre-fills the form"


def test_the_exact_template_imports_through_the_api(member_api, team):
    response = member_api.post(IMPORT_API, {"team": team.slug, "markdown": THE_TEMPLATE}, format="json")
    assert response.status_code == 201, response.data
    assert response.data["postmortem"]["title"] == "<title>"
    assert response.data["postmortem"]["status"] == "draft"
    assert response.data["warnings"] == []


def test_a_filled_template_pre_fills_the_form_with_its_rows(member_client, team):
    response = member_client.post(IMPORT_PAGE, {"team": team.pk, "markdown": FEATURE_PIPELINE_MARKDOWN})
    assert response.status_code == 200
    form, items, lessons = response.context["form"], response.context["items"], response.context["lessons"]
    assert form.initial["title"] == "Feature engineering pipeline failure"
    assert form.initial["what_happened"].startswith("- A schema change upstream")
    assert form.initial["what_went_well"] == "- Detected within 4 hours\n- Rollback worked"
    assert [row.initial["description"] for row in items.forms if row.initial] == [
        "Add data validation checks to the pipeline", "Agree a data contract with upstream",
        "Alert on feature drift before training", "Document the rollback runbook"]
    assert [row.initial["text"] for row in lessons.forms if row.initial] == [
        "Validate data at every boundary", "Schema changes need a contract", "Cheap checks before expensive GPU jobs"]
    assert b"Add data validation checks to the pipeline" in response.content


def test_the_api_import_creates_items_and_lessons_with_the_timeline_given(member_api, team):
    response = member_api.post(IMPORT_API, {
        "team": team.slug, "markdown": FEATURE_PIPELINE_MARKDOWN, "occurred_at": "2026-03-02T02:00:00Z",
        "detected_at": "2026-03-02T05:40:00Z", "resolved_at": "2026-03-03T08:00:00Z", "status": "published",
    }, format="json")
    assert response.status_code == 201, response.data
    postmortem = PostMortem.objects.get()
    assert postmortem.status == "published"
    assert postmortem.detected_at - postmortem.occurred_at == dt.timedelta(hours=3, minutes=40)
    assert postmortem.action_items.count() == 4 and postmortem.lessons.count() == 3


def test_unknown_and_missing_sections_are_reported_not_lost(member_client, team):
    markdown = """## Post-Mortem: Search outage
### What Happened
- The index was stale
### Impact
- 20% of queries returned old results
### Action Items
1. Alert on index age
"""
    response = member_client.post(IMPORT_PAGE, {"team": team.pk, "markdown": markdown})
    warnings = " ".join(response.context["warnings"])
    assert "“Impact”" in warnings
    assert "“Root Cause”" in warnings and "“What Went Well”" in warnings and "“Lessons for Team”" in warnings
    what_happened = response.context["form"].initial["what_happened"]
    assert "- The index was stale" in what_happened and "20% of queries returned old results" in what_happened
    page = response.content.decode()
    assert "20% of queries returned old results" in page and "Impact" in page


def test_owners_in_the_markdown_are_matched_to_team_members(member_api, team, member, outsider):
    markdown = ("## Post-Mortem: Owners\n### Action Items\n1. Mine (owner: @mia, due: 2026-05-01)\n"
                "2. Theirs (owner: olga)\n3. Plain (with a parenthesis)\n")
    response = member_api.post(IMPORT_API, {"team": team.slug, "markdown": markdown}, format="json")
    assert response.status_code == 201
    items = list(ActionItem.objects.order_by("position"))
    assert [(i.description, i.owner, i.due_date) for i in items] == [
        ("Mine", member, dt.date(2026, 5, 1)), ("Theirs", None, None), ("Plain (with a parenthesis)", None, None)]
    assert any("“olga” is not a member" in warning for warning in response.data["warnings"])


def test_export_then_import_round_trips(member_client, member_api, team, member, lead):
    original = PostMortemFactory(
        team=team, title="Ranker served stale features", severity="sev1", production_impact=True, restricted=True,
        failure_mode="infrastructure", what_happened="- The cache kept serving\n- Nobody noticed\n\nMore detail.",
        root_cause="- TTL was unbounded", what_went_well="- The fallback held")
    ActionItemFactory(postmortem=original, position=0, owner=member, description="Bound the TTL",
                      due_date=dt.date(2026, 4, 1), status="done")
    ActionItemFactory(postmortem=original, position=1, owner=lead, description="Alert on staleness\nin two regions",
                      due_date=None, status="in_progress")
    Lesson.objects.create(team=team, postmortem=original, text="Caches need an owner", position=0)
    Lesson.objects.create(team=team, postmortem=original, text="Staleness is an outage", position=1)

    exported = member_client.get(reverse("postmortems:markdown", args=[original.pk]))
    assert exported["Content-Type"].startswith("text/markdown")
    markdown = exported.content.decode()
    response = member_api.post(IMPORT_API, {"team": team.slug, "markdown": markdown}, format="json")
    assert response.status_code == 201, response.data
    assert response.data["warnings"] == []
    copy = PostMortem.objects.exclude(pk=original.pk).get()
    for name in ("title", "severity", "status", "production_impact", "restricted", "failure_mode", "occurred_at",
                 "detected_at", "resolved_at", "what_happened", "root_cause", "what_went_well"):
        assert getattr(copy, name) == getattr(original, name), name
    assert [(i.description, i.owner, i.due_date, i.status) for i in copy.action_items.all()] == [
        (i.description, i.owner, i.due_date, i.status) for i in original.action_items.all()]
    assert list(copy.lessons.values_list("text", flat=True)) == ["Caches need an owner", "Staleness is an outage"]
    again = member_client.get(reverse("postmortems:markdown", args=[copy.pk])).content.decode()
    assert again == markdown


def test_the_api_markdown_endpoint_answers_text_markdown(member_api, team):
    postmortem = PostMortemFactory(team=team, title="Exported")
    response = member_api.get(f"/api/v1/postmortems/{postmortem.pk}/markdown/", HTTP_ACCEPT="text/markdown")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response.content.decode().startswith("## Post-Mortem: Exported\n")


def test_an_impossible_due_date_or_timeline_is_a_warning_not_a_500(member_api, team):
    markdown = "## Post-Mortem: Bad dates\n### Action Items\n1. Fix it (due: 2026-13-45)\n"
    response = member_api.post(IMPORT_API, {"team": team.slug, "markdown": markdown,
                                            "occurred_at": "2026-02-30"}, format="json")
    assert response.status_code == 400, "an impossible timeline date is a field error"
    assert "occurred_at" in response.data
    response = member_api.post(IMPORT_API, {"team": team.slug, "markdown": markdown}, format="json")
    assert response.status_code == 201
    assert ActionItem.objects.get().due_date is None
    assert any("2026-13-45" in warning for warning in response.data["warnings"])
