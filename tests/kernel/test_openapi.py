"""The OpenAPI schema generates without a warning, is served, and the API root lists every resource."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

from learninghub.api import EXTRA_ROOT_ENTRIES, router

pytestmark = pytest.mark.django_db

# DESIGN.md "Interfaces": the resources under /api/v1/.
DESIGNED_RESOURCES = {"teams", "experiments", "lessons", "postmortems", "action-items", "awards/categories",
                      "awards/cycles", "awards/nominations", "awards/votes", "metrics"}


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    """What CI's ``manage.py spectacular --validate --fail-on-warn`` checks, in-process."""
    GENERATOR_STATS.reset()  # warnings emitted earlier in this process (the schema view) are not ours
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["info"]["title"] == "LearningHub API"
    assert "/api/v1/experiments/{id}/" in schema["paths"]


def test_the_schema_is_served(member_client):
    response = member_client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi:" in response.content


def test_the_api_root_lists_every_resource(member_api):
    response = member_api.get("/api/v1/")
    assert response.status_code == 200
    listed = set(response.json())
    registered = {prefix for prefix, _viewset, _basename in router.registry} | set(EXTRA_ROOT_ENTRIES)
    assert listed == registered
    assert listed >= DESIGNED_RESOURCES
    for url in response.json().values():
        assert member_api.get(url).status_code == 200, url
