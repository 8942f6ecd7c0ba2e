"""The admin: a page for every model of the project, and the kernel's read-only operational ones."""

import pytest
from django.apps import apps
from django.contrib import admin

from learninghub.kernel.models import OutboxMessage

PROJECT_APPS = {"learninghub", "experiments", "postmortems", "awards", "metrics", "repeats", "search", "alerts"}


def test_every_project_model_has_an_admin_page():
    """Unmanaged models (SQLite's FTS5 virtual table behind the search index) are the exception."""
    missing = [model._meta.label for model in apps.get_models()
               if model._meta.app_label in PROJECT_APPS and model._meta.managed and model not in admin.site._registry]
    assert missing == []


@pytest.mark.django_db
def test_staff_see_the_outbox_and_publish_what_waits(admin_client):
    waiting = OutboxMessage.objects.create(task="learninghub.kernel.tasks.drain_outbox", args=[],
                                           attempts=3, last_error="broker unavailable")
    page = admin_client.get("/admin/learninghub/outboxmessage/")
    assert page.status_code == 200 and b"broker unavailable" in page.content
    assert admin_client.get(f"/admin/learninghub/outboxmessage/{waiting.pk}/change/").status_code == 200
    response = admin_client.post("/admin/learninghub/outboxmessage/",
                                 {"action": "publish_now", "index": 0, "_selected_action": [waiting.pk]}, follow=True)
    assert b"1 published; 0 still waiting" in response.content  # tasks run in-process here
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["learninghub/idempotencykey", "experiments/mlflowrun", "search/searchdocument"])
def test_derived_and_operational_records_are_listed_read_only(admin_client, path):
    assert admin_client.get(f"/admin/{path}/").status_code == 200
    assert admin_client.get(f"/admin/{path}/add/").status_code == 403
