"""The MLflow mappings through the API: the team's members read them, its leads manage them."""

import httpx
import pytest
from django.urls import reverse

from experiments.mlflow.sync import sync_mapping
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


@pytest.mark.parametrize("uri", ["http://10.0.0.5:5000", "http://169.254.169.254/latest", "http://[::1]:5000",
                                 "http://user:secret@mlflow:5000", "ftp://mlflow:5000"])
def test_a_mapping_cannot_point_the_server_at_a_private_address(lead_api, team, settings, uri):
    """SSRF: a lead's tracking URI is fetched by the server, so private addresses need the
    operator's say-so (MLFLOW_ALLOWED_HOSTS); the refusal names the field and the setting."""
    settings.MLFLOW_ALLOWED_HOSTS = ["mlflow"]
    response = lead_api.post(LIST, {**BODY, "tracking_uri": uri}, format="json")
    assert response.status_code == 400
    assert "tracking_uri" in response.data
    assert not MlflowMapping.objects.exists()


def test_the_operator_allow_list_admits_private_hosts_and_domains(lead_api, team, settings):
    settings.MLFLOW_ALLOWED_HOSTS = [".ml.internal", "10.0.0.5"]
    for uri in ("http://10.0.0.5:5000", "http://tracking.ml.internal"):
        assert lead_api.post(LIST, {**BODY, "tracking_uri": uri}, format="json").status_code == 201, uri
    refused = lead_api.post(LIST, {**BODY, "tracking_uri": "http://10.0.0.6:5000"}, format="json")
    assert "MLFLOW_ALLOWED_HOSTS" in str(refused.data["tracking_uri"])


def test_a_mapping_no_longer_allowed_is_not_contacted(team, settings):
    mapping = MlflowMapping.objects.create(team=team, tracking_uri="http://10.0.0.5:5000", experiment_name="ranker")
    settings.MLFLOW_ALLOWED_HOSTS = []

    def refuse(request):  # the transport must never be reached
        raise AssertionError(f"contacted {request.url}")

    result = sync_mapping(mapping, transport=httpx.MockTransport(refuse))
    assert "private" in result.error
    mapping.refresh_from_db()
    assert "private" in mapping.last_result and mapping.last_synced_at is not None
