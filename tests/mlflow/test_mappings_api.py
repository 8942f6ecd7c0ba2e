"""The MLflow mappings through the API: the team's members read them, its leads manage them."""

import pytest
from django.urls import reverse

from experiments.models import MlflowMapping

pytestmark = pytest.mark.django_db

LIST = reverse("api-mlflow-mapping-list")
BODY = {"team": "recsys", "tracking_uri": "http://mlflow:5000/", "experiment_name": "ranker"}


def test_a_lead_creates_edits_and_deletes_a_mapping(lead_api, team):
    created = lead_api.post(LIST, BODY, format="json")
    assert created.status_code == 201, created.data
    assert created.data["tracking_uri"] == "http://mlflow:5000" and created.data["enabled"] is True
    url = reverse("api-mlflow-mapping-detail", args=[created.data["id"]])
    MlflowMapping.objects.update(cursor_start_time=123)
    assert lead_api.patch(url, {"experiment_name": "ranker-v2"}, format="json").status_code == 200
    assert MlflowMapping.objects.get().cursor_start_time is None  # another experiment: read from the start
    assert lead_api.post(LIST, {**BODY, "experiment_name": "ranker-v2"}, format="json").status_code == 400
    assert lead_api.post(f"{url}sync/").status_code == 202
    assert lead_api.delete(url).status_code == 204


def test_members_read_leads_write_outsiders_see_nothing(member_api, outsider_api, lead, team):
    mapping = MlflowMapping.objects.create(team=team, tracking_uri="http://mlflow:5000", experiment_name="ranker")
    url = reverse("api-mlflow-mapping-detail", args=[mapping.pk])
    assert [row["experiment_name"] for row in member_api.get(LIST).data["results"]] == ["ranker"]
    assert member_api.patch(url, {"enabled": False}, format="json").status_code == 403
    assert member_api.post(LIST, BODY, format="json").status_code == 403
    assert outsider_api.get(url).status_code == 404
    assert MlflowMapping.objects.get().enabled is True
