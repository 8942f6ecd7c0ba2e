"""Export to the registry's Markdown format, from the page and from the API."""

import datetime as dt

import pytest

from experiments.markdown import experiment_markdown
from tests.factories.experiments import ExperimentFactory, LessonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(team, lineage):
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    experiment = ExperimentFactory(
        team=team, title="Recommender v2", builds_on=lineage[0],
        hypothesis="A deep ranker\nbeats collaborative filtering on CTR.",
        approach="Six-layer MLP over embeddings.", metrics={"ctr": 0.52, "latency_ms": 300},
        started_at=start, ended_at=start + dt.timedelta(days=21), outcome="failure", failure_kind="productive",
        failure_mode="infrastructure", next_steps=["Split retrieval from ranking", "Set a latency budget"])
    LessonFactory(experiment=experiment, text="Latency is a product requirement.", position=0)
    LessonFactory(experiment=experiment, text="Score only the top candidates.", position=1)
    return experiment


def test_registry_format(experiment):
    text = experiment_markdown(experiment)
    assert text.startswith("## Experiment: A deep ranker beats collaborative filtering on CTR.\n")
    for line in ["**Date**: 2026-03-02", "**Duration**: 21 days", "**Outcome**: Failure (productive, infrastructure)",
                 "**Team**: Recommendations", "**Builds on**: Recsys v1"]:
        assert line in text
    sections = ["### Approach", "### Results", "### Lessons Learned", "### Next Steps"]
    positions = [text.index(section) for section in sections]
    assert positions == sorted(positions)
    assert '```json\n{\n  "ctr": 0.52,\n  "latency_ms": 300\n}\n```' in text
    assert "1. Latency is a product requirement.\n2. Score only the top candidates." in text
    assert "- Split retrieval from ranking\n- Set a latency budget" in text


def test_crashed_run_includes_the_error(team):
    experiment = ExperimentFactory(team=team, failed=True, failure_kind="system", error_type="KeyError",
                                   error_message="'user_id'", error_trace="Traceback (most recent call last):\n  x")
    text = experiment_markdown(experiment)
    assert "**Error**: `KeyError`: 'user_id'" in text and "```text\nTraceback (most recent call last):" in text


def test_empty_sections_say_so(team):
    text = experiment_markdown(ExperimentFactory(team=team, approach="", metrics={}))
    assert "**Duration**: ongoing" in text and text.count("_None recorded._") == 4


def test_api_returns_text_markdown(member_api, experiment):
    response = member_api.get(f"/api/v1/experiments/{experiment.pk}/markdown/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.content.decode() == experiment_markdown(experiment)


def test_api_honours_accept_text_markdown(member_api, experiment):
    response = member_api.get(f"/api/v1/experiments/{experiment.pk}/markdown/", HTTP_ACCEPT="text/markdown")
    assert response.status_code == 200 and response.content.decode().startswith("## Experiment:")
    assert member_api.get("/api/v1/experiments/999999/markdown/", HTTP_ACCEPT="text/markdown").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/experiments/999999/markdown/", "/api/v1/postmortems/999999/markdown/"])
@pytest.mark.parametrize("accept", ["text/markdown", "*/*"])
def test_markdown_exports_answer_errors_as_json_like_the_rest_of_the_api(member_api, api_client, path, accept):
    missing = member_api.get(path, HTTP_ACCEPT=accept)
    anonymous = api_client.get(path, HTTP_ACCEPT=accept)
    for response, status in ((missing, 404), (anonymous, 401)):
        assert response.status_code == status
        assert response["Content-Type"].startswith("application/json")
        assert "detail" in response.json()


def test_page_button_downloads_the_file(member_client, experiment):
    page = member_client.get(f"/experiments/{experiment.pk}/")
    assert f'href="/experiments/{experiment.pk}/markdown/"'.encode() in page.content
    response = member_client.get(f"/experiments/{experiment.pk}/markdown/")
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="experiment-{experiment.pk}-recommender-v2.md"'
    assert response.content.decode() == experiment_markdown(experiment)
