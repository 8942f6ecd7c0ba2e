"""The one search (the selector and the page): ranking, typos, visibility in hits, counts and
facets, the index following every write, bad input, pagination and highlighted, escaped hits."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.urls import reverse

from experiments.models import Lesson
from learninghub.insights.search.models import DocumentKind, SearchDocument
from learninghub.insights.search.selectors import SearchFilters, search
from learninghub.kernel.periods import Month
from tests.factories import UserFactory
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.search.conftest import on_postgresql

pytestmark = pytest.mark.django_db

URL = reverse("search:page")
NOVEMBER = dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)


def kinds_and_ids(results):
    return [(hit.kind, hit.object_id) for hit in results.hits]


@pytest.fixture
def secret(team, member):
    """A restricted post-mortem with a lesson and an action item, all about "zanzibar"."""
    postmortem = PostMortemFactory(team=team, title="Zanzibar credentials leaked in logs", restricted=True,
                                   what_happened="- zanzibar tokens printed by the debug logger")
    ActionItemFactory(postmortem=postmortem, owner=member, description="Rotate the zanzibar keys")
    Lesson.objects.create(team=team, postmortem=postmortem, text="Never log zanzibar secrets")
    return postmortem


# --- Ranking ------------------------------------------------------------------------------------


def test_a_title_match_ranks_above_a_body_match(team, member):
    in_body = ExperimentFactory(team=team, title="Ranking model v3", hypothesis="Label leakage inflated AUC")
    in_title = ExperimentFactory(team=team, title="Label leakage in the click logs", hypothesis="Clean split")
    results = search(user=member, query="leakage")
    assert kinds_and_ids(results)[:2] == [("experiment", in_title.pk), ("experiment", in_body.pk)]


def test_records_with_every_word_rank_first_and_a_phrase_keeps_its_order(team, member):
    both = ExperimentFactory(team=team, title="Feature pipeline failure", hypothesis="x")
    one = ExperimentFactory(team=team, title="Feature store latency", hypothesis="y")
    reordered = ExperimentFactory(team=team, title="Failure of the pipeline feature", hypothesis="z")
    assert [hit.object_id for hit in search(user=member, query='"feature pipeline"').hits] == [both.pk]
    ranked = [hit.object_id for hit in search(user=member, query="feature pipeline").hits]
    assert set(ranked[:2]) == {both.pk, reordered.pk} and ranked[2:] == [one.pk]


def test_a_question_finds_the_record_that_answers_it(team, member):
    answer = ExperimentFactory(team=team, title="Hard negatives for two-tower retrieval",
                               hypothesis="Mining hard negatives improves recall")
    ExperimentFactory(team=team, title="Session features", hypothesis="More context helps")
    hits = search(user=member, query="have we tried hard negatives for retrieval?").hits
    assert hits[0].object_id == answer.pk


def test_excluded_words_and_alternatives(team, member):
    gpu = ExperimentFactory(team=team, title="GPU memory spike", hypothesis="a")
    cpu = ExperimentFactory(team=team, title="CPU memory spike", hypothesis="b")
    assert {hit.object_id for hit in search(user=member, query="memory -gpu").hits} == {cpu.pk}
    assert {hit.object_id for hit in search(user=member, query="gpu OR cpu").hits} == {gpu.pk, cpu.pk}


def test_one_search_covers_all_four_kinds(team, member):
    experiment = ExperimentFactory(team=team, title="Quokka embeddings", hypothesis="h")
    lesson = LessonFactory(experiment=experiment, text="Quokka vectors need normalising")
    postmortem = PostMortemFactory(team=team, title="Quokka outage")
    item = ActionItemFactory(postmortem=postmortem, description="Alert on quokka lag")
    found = set(kinds_and_ids(search(user=member, query="quokka")))
    assert found == {("experiment", experiment.pk), ("lesson", lesson.pk), ("postmortem", postmortem.pk),
                     ("action_item", item.pk)}


def test_a_word_prefix_finds_the_longer_word(team, member):
    experiment = ExperimentFactory(team=team, title="Overfitting on the small catalogue", hypothesis="h")
    assert experiment.pk in [hit.object_id for hit in search(user=member, query="overfit").hits]


@on_postgresql
def test_a_typo_in_a_title_still_finds_it(team, member):
    experiment = ExperimentFactory(team=team, title="Overfitting on the small catalogue", hypothesis="h")
    assert experiment.pk in [hit.object_id for hit in search(user=member, query="overfiting").hits]
    assert experiment.pk in [hit.object_id for hit in search(user=member, query="catalog overfitting").hits]


# --- Visibility ---------------------------------------------------------------------------------


def test_restricted_records_are_hidden_from_another_team_in_hits_counts_and_facets(secret, team, outsider):
    ExperimentFactory(team=team, title="Zanzibar region rollout", hypothesis="h")
    results = search(user=outsider, query="zanzibar")
    assert [hit.kind for hit in results.hits] == ["experiment"]
    assert results.total == 1
    assert {value.value: value.count for value in results.facets["kind"]} == {"experiment": 1}
    assert {value.value: value.count for value in results.facets["team"]} == {"recsys": 1}
    assert sum(value.count for value in results.facets["period"]) == 1
    assert search(user=outsider, query="zanzibar", filters=SearchFilters(kind=DocumentKind.LESSON)).total == 0


def test_the_team_and_staff_see_restricted_records(secret, member):
    assert search(user=member, query="zanzibar").total == 3
    staff = UserFactory(username="sam", is_staff=True)
    assert search(user=staff, query="zanzibar").total == 3


def test_no_team_sees_no_restricted_record_on_the_page(client, secret):
    client.force_login(UserFactory(username="nobody"))
    response = client.get(URL, {"q": "zanzibar"})
    assert response.status_code == 200
    assert b"Zanzibar" not in response.content
    assert response.context["results"].total == 0


# --- The index follows the records --------------------------------------------------------------


def test_the_index_follows_create_edit_and_delete(team, member):
    experiment = ExperimentFactory(team=team, title="Wombat sampling", hypothesis="h")
    assert search(user=member, query="wombat").total == 1
    experiment.title = "Platypus sampling"
    experiment.save()
    assert search(user=member, query="wombat").total == 0
    assert search(user=member, query="platypus").total == 1
    experiment.delete()
    assert search(user=member, query="platypus").total == 0
    assert not SearchDocument.objects.filter(kind="experiment", object_id=experiment.pk).exists()


def test_deleting_a_postmortem_removes_its_lessons_and_action_items(secret, member):
    secret.delete()
    assert search(user=member, query="zanzibar").total == 0
    assert not SearchDocument.objects.exists()


def test_toggling_restricted_reaches_the_lessons_and_action_items(secret, outsider):
    assert search(user=outsider, query="zanzibar").total == 0
    secret.restricted = False
    secret.save()
    assert search(user=outsider, query="zanzibar").total == 3
    secret.restricted = True
    secret.save()
    assert search(user=outsider, query="zanzibar").total == 0


def test_a_lesson_follows_its_experiments_outcome(team, member):
    experiment = ExperimentFactory(team=team, title="Baseline", hypothesis="h")
    LessonFactory(experiment=experiment, text="Kiwi features are noisy")
    experiment.outcome, experiment.failure_kind, experiment.failure_mode = "failure", "productive", "overfitting"
    experiment.ended_at = experiment.started_at + dt.timedelta(days=1)
    experiment.save()
    results = search(user=member, query="kiwi", filters=SearchFilters(outcome="failure"))
    assert [hit.kind for hit in results.hits] == ["lesson"]
    assert results.hits[0].failure_mode == "overfitting"


def test_rebuild_search_index_restores_everything(secret, member):
    ExperimentFactory(team=secret.team, title="Zanzibar experiment", hypothesis="h")
    SearchDocument.objects.all().delete()
    assert search(user=member, query="zanzibar").total == 0
    call_command("rebuild_search_index", "--no-progress")
    assert search(user=member, query="zanzibar").total == 4


# --- Facets and filters -------------------------------------------------------------------------


def test_facets_count_each_value_under_the_other_filters(team, other_team, member):
    ExperimentFactory(team=team, title="Heron drift", hypothesis="h", started_at=NOVEMBER, failed=True)
    ExperimentFactory(team=other_team, title="Heron drift again", hypothesis="h",
                      started_at=NOVEMBER - dt.timedelta(days=40))
    PostMortemFactory(team=team, title="Heron outage", occurred_at=NOVEMBER)
    results = search(user=member, query="heron", filters=SearchFilters(team=team))
    assert results.total == 2
    assert {v.value: v.count for v in results.facets["team"]} == {"recsys": 2, "data-platform": 1}
    assert {v.value: v.count for v in results.facets["kind"]} == {"experiment": 1, "postmortem": 1}
    assert {v.value: v.count for v in results.facets["outcome"]} == {"failure": 1}
    assert {v.value: v.count for v in results.facets["period"]} == {"2026-11": 2}
    november = search(user=member, query="heron", filters=SearchFilters(period=Month(2026, 11)))
    assert november.total == 2
    assert [v.label for v in november.facets["period"]] == ["November 2026", "October 2026"]


# --- The page -----------------------------------------------------------------------------------


def test_the_search_page_is_in_the_navigation(member_client):
    assert f'href="{URL}"'.encode() in member_client.get(reverse("home")).content


def test_the_page_shows_ranked_hits_with_highlights_and_escapes_the_rest(member_client, team):
    ExperimentFactory(team=team, title="<script>alert(1)</script> leakage in labels",
                      hypothesis="We saw <b>leakage</b> & more")
    response = member_client.get(URL, {"q": "leakage"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>leakage</mark> in labels" in html
    assert "<mark>leakage</mark>&lt;/b&gt; &amp; more" in html  # the snippet (its start differs per engine)
    assert 'data-facet="kind"' in html


def test_a_facet_link_narrows_the_results(member_client, team):
    experiment = ExperimentFactory(team=team, title="Ibis ranking", hypothesis="h")
    PostMortemFactory(team=team, title="Ibis outage")
    response = member_client.get(URL, {"q": "ibis", "kind": "experiment"})
    assert [hit.object_id for hit in response.context["page_obj"].object_list] == [experiment.pk]
    groups = {group["name"]: group for group in response.context["facet_groups"]}
    selected = groups["kind"]["links"][0]
    assert selected["value"].selected and "kind=experiment" not in selected["href"]  # a click clears it


def test_pagination(member_client, team):
    for number in range(25):
        ExperimentFactory(team=team, title=f"Gecko run {number}", hypothesis="h")
    first = member_client.get(URL, {"q": "gecko"})
    second = member_client.get(URL, {"q": "gecko", "page": 2})
    assert len(first.context["page_obj"].object_list) == 20
    assert len(second.context["page_obj"].object_list) == 5
    ids = {hit.object_id for page in (first, second) for hit in page.context["page_obj"].object_list}
    assert len(ids) == 25
    assert "Page 1 of 2 (25 in all)" in first.content.decode()
    assert "q=gecko&amp;page=2" in first.content.decode()
    assert len(member_client.get(URL, {"q": "gecko", "page": 99}).context["page_obj"].object_list) == 5
    assert len(member_client.get(URL, {"q": "gecko", "page": "x"}).context["page_obj"].object_list) == 20


@pytest.mark.parametrize("query", ["", "   ", '"" - OR', "OR", "-", '"', '""', "-leakage", "* ^ :"])
def test_queries_with_nothing_to_find_answer_200_and_no_results(member_client, team, query):
    ExperimentFactory(team=team, title="Leakage or not", hypothesis="h")
    response = member_client.get(URL, {"q": query})
    assert response.status_code == 200
    results = response.context["results"]
    assert results is None or results.total == 0


@pytest.mark.parametrize("query", ["NEAR(leakage labels)", "title:leakage", "leakage*", "(leakage", "leakage AND",
                                   "leak'age", 'lea"kage', "leakage & labels | !x", "x" * 200])
def test_engine_syntax_in_a_query_is_just_text(member_client, team, query):
    ExperimentFactory(team=team, title="Leakage in labels", hypothesis="h")
    response = member_client.get(URL, {"q": query})
    assert response.status_code == 200
    assert response.context["results"] is not None


@pytest.mark.parametrize("query", ["переобучение модели", "過学習", "مشكلة البيانات", "Überanpassung"])
def test_non_latin_queries_find_non_latin_records(member_client, team, query):
    experiment = ExperimentFactory(team=team, title=f"{query} v2", hypothesis="h")
    response = member_client.get(URL, {"q": query})
    assert response.status_code == 200
    assert experiment.pk in [hit.object_id for hit in response.context["page_obj"].object_list]


def test_a_query_over_the_limit_is_refused_with_a_message(member_client):
    response = member_client.get(URL, {"q": "x" * 10_000})
    assert response.status_code == 400
    assert "Search for at most 200 characters (this is 10000)" in response.content.decode()


def test_a_nul_character_is_refused_with_a_message(member_client):
    response = member_client.get(URL, {"q": "leak\x00age"})
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()


def test_the_empty_page_invites_a_query(member_client):
    response = member_client.get(URL)
    assert response.status_code == 200
    assert "Type what you are looking for." in response.content.decode()
