"""GET /api/v1/search/: the same engine as the page, as JSON; the index follows writes made
through the API; bad input is a 200 with nothing or a 400 on ``q``, never a 500."""

import pytest

from experiments.models import Lesson
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/search/"


@pytest.fixture
def secret(team, member):
    postmortem = PostMortemFactory(team=team, title="Zanzibar credentials leaked in logs", restricted=True,
                                   what_happened="- zanzibar tokens printed by the debug logger")
    ActionItemFactory(postmortem=postmortem, owner=member, description="Rotate the zanzibar keys")
    Lesson.objects.create(team=team, postmortem=postmortem, text="Never log zanzibar secrets")
    return postmortem


def found(client, query: str, **params) -> list[tuple[str, int]]:
    response = client.get(URL, {"q": query, **params})
    assert response.status_code == 200, response.content
    return [(hit["kind"], hit["object_id"]) for hit in response.json()["results"]]


def test_results_are_ranked_highlighted_and_faceted(member_api, team):
    in_body = ExperimentFactory(team=team, title="Ranking model v3", hypothesis="Label <i>leakage</i> inflated AUC")
    in_title = ExperimentFactory(team=team, title="Label leakage in the click logs", hypothesis="Clean split",
                                 failed=True)
    response = member_api.get(URL, {"q": "leakage"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["page"] == 1 and body["pages"] == 1 and body["next"] is None
    first, second = body["results"]
    assert (first["object_id"], second["object_id"]) == (in_title.pk, in_body.pk)
    assert first["score"] > second["score"]
    assert first["title_html"] == "Label <mark>leakage</mark> in the click logs"
    assert first["url"] == in_title.get_absolute_url() and first["team"] == "recsys"
    assert "<mark>leakage</mark>&lt;/i&gt; inflated" in second["snippet_html"]
    assert body["facets"]["kind"] == [{"value": "experiment", "label": "Experiment", "count": 2, "selected": False}]
    assert {v["value"]: v["count"] for v in body["facets"]["outcome"]} == {"failure": 1, "in_progress": 1}
    filtered = member_api.get(URL, {"q": "leakage", "outcome": "failure"}).json()
    assert [hit["object_id"] for hit in filtered["results"]] == [in_title.pk]
    assert [v["selected"] for v in filtered["facets"]["outcome"] if v["value"] == "failure"] == [True]


def test_restricted_records_are_absent_for_another_team(outsider_api, member_api, secret):
    assert found(member_api, "zanzibar", page_size=10) != []
    assert len(found(member_api, "zanzibar")) == 3
    body = outsider_api.get(URL, {"q": "zanzibar"}).json()
    assert body["count"] == 0 and body["results"] == []
    assert all(values == [] for values in body["facets"].values())


def test_sign_in_is_required(api_client):
    assert api_client.get(URL, {"q": "x"}).status_code in (401, 403)


def test_the_api_root_lists_search(member_api):
    assert member_api.get("/api/v1/").json()["search"].endswith(URL)


def test_pages_link_to_each_other(member_api, team):
    for number in range(7):
        ExperimentFactory(team=team, title=f"Gecko run {number}", hypothesis="h")
    first = member_api.get(URL, {"q": "gecko", "page_size": 5}).json()
    assert first["count"] == 7 and first["pages"] == 2 and len(first["results"]) == 5
    second = member_api.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None and second["previous"] is not None
    ids = {hit["object_id"] for hit in first["results"] + second["results"]}
    assert len(ids) == 7


# --- The index follows writes made through the API ---------------------------------------------


def test_created_edited_and_deleted_experiments(member_api, lead_api):
    created = member_api.post("/api/v1/experiments/", {"team": "recsys", "title": "Wombat sampling",
                                                       "hypothesis": "Stratify by wombat"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert found(member_api, "wombat") == [("experiment", pk)]
    edited = member_api.patch(f"/api/v1/experiments/{pk}/", {"title": "Platypus sampling",
                                                              "hypothesis": "Stratify by region"}, format="json")
    assert edited.status_code == 200, edited.content
    assert found(member_api, "wombat") == []
    assert found(member_api, "platypus") == [("experiment", pk)]
    assert lead_api.delete(f"/api/v1/experiments/{pk}/").status_code == 204
    assert found(member_api, "platypus") == []


def test_toggling_restricted_through_the_api(member_api, outsider_api, secret):
    assert found(outsider_api, "zanzibar") == []
    response = member_api.patch(f"/api/v1/postmortems/{secret.pk}/", {"restricted": False}, format="json")
    assert response.status_code == 200, response.content
    assert {kind for kind, _pk in found(outsider_api, "zanzibar")} == {"postmortem", "lesson", "action_item"}
    member_api.patch(f"/api/v1/postmortems/{secret.pk}/", {"restricted": True}, format="json")
    assert found(outsider_api, "zanzibar") == []


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", '"" - OR', "OR", "-", "-leakage", '"'])
def test_nothing_to_look_for_is_an_empty_200(member_api, team, query):
    ExperimentFactory(team=team, title="Leakage or not", hypothesis="h")
    body = member_api.get(URL, {"q": query}).json()
    assert body["count"] == 0 and body["results"] == [] and body["pages"] == 1


def test_no_query_parameter_at_all_is_an_empty_200(member_api):
    response = member_api.get(URL)
    assert response.status_code == 200 and response.json()["count"] == 0


@pytest.mark.parametrize("query", ["переобучение", "過学習 モデル", "مشكلة", "NEAR(a b)", "a:b*", "x" * 200])
def test_any_text_under_the_limit_is_a_200(member_api, team, query):
    ExperimentFactory(team=team, title="переобучение 過学習 モデル", hypothesis="h")
    assert member_api.get(URL, {"q": query}).status_code == 200


def test_non_latin_words_are_found(member_api, team):
    experiment = ExperimentFactory(team=team, title="Переобучение на малых данных", hypothesis="h")
    assert found(member_api, "переобучение") == [("experiment", experiment.pk)]


def test_a_query_over_the_limit_is_a_400_on_q(member_api):
    response = member_api.get(URL, {"q": "x" * 10_000})
    assert response.status_code == 400
    assert response.json()["q"] == ["Search for at most 200 characters (this is 10000): shorten the query."]


def test_a_nul_character_is_a_400_on_q(member_api):
    response = member_api.get(URL, {"q": "leak\x00age"})
    assert response.status_code == 400
    assert "q" in response.json()


@pytest.mark.parametrize(("param", "value"), [("period", "2026-13"), ("period", "soon"), ("team", "nope"),
                                              ("kind", "award"), ("page", "0"), ("page_size", "1000")])
def test_bad_filters_are_a_400_on_their_field(member_api, param, value):
    response = member_api.get(URL, {"q": "x", param: value})
    assert response.status_code == 400
    assert param in response.json()


def test_the_query_count_does_not_grow_with_the_results(member_api, team, django_assert_max_num_queries):
    """Session and user, the count, the ranked ids (records with every word, then those with some:
    up to three queries), the page's rows, their highlights, and one grouped query per facet:
    bounded whatever the number of matches."""
    for number in range(30):
        ExperimentFactory(team=team, title=f"Shard eviction {number}" if number % 2 else f"Shard {number}",
                          hypothesis="Cache under load", failed=bool(number % 3))
    with django_assert_max_num_queries(12):
        body = member_api.get(URL, {"q": "shard eviction", "page_size": 20}).json()
    assert body["count"] == 30 and len(body["results"]) == 20
    with django_assert_max_num_queries(12):
        assert member_api.get(URL, {"q": "shard eviction", "page": 2, "page_size": 20}).json()["count"] == 30
