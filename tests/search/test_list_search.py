"""The list pages' ``search`` goes through the search engine (registered with the kernel hook):
stemmed words, every word required, the list's own sort kept, visibility never widened; with no
engine registered, the lists fall back to their ``icontains`` matching."""

import pytest

from experiments.models import Experiment
from learninghub.insights.search.selectors import list_search_ids
from learninghub.kernel import search as kernel_search
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db

EXPERIMENTS = "/experiments/"
POSTMORTEMS = "/postmortems/"


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["page_obj"])


@pytest.fixture
def engine_calls():
    """The registered engine, wrapped to record its calls (and put back afterwards)."""
    calls = []

    def recording(model_label, user, query):
        calls.append((model_label, query))
        return list_search_ids(model_label, user, query)

    previous = kernel_search.register_text_search(recording)
    yield calls
    kernel_search.register_text_search(previous)


@pytest.fixture
def no_engine():
    previous = kernel_search.register_text_search(None)
    yield
    kernel_search.register_text_search(previous)


def test_the_search_app_registers_its_engine():
    assert kernel_search.text_search_ids("experiments.experiment", None, "x") is not None


def test_the_experiment_list_searches_through_the_engine(member_client, team, engine_calls):
    leak = ExperimentFactory(team=team, title="Target leaks in the churn features", hypothesis="h")
    ExperimentFactory(team=team, title="Faster tokenizer", hypothesis="h")
    assert listed(member_client.get(EXPERIMENTS, {"search": "leaking"})) == [leak]  # stemmed on both databases
    assert engine_calls == [("experiments.experiment", "leaking")]


def test_every_word_is_required_and_lessons_count(member_client, team, engine_calls):
    older = ExperimentFactory(team=team, title="Churn model features", hypothesis="h", started_at="2026-01-05T00:00Z")
    newer = ExperimentFactory(team=team, title="Churn dashboard", hypothesis="h", started_at="2026-02-05T00:00Z")
    LessonFactory(experiment=newer, text="Features drift weekly")
    ExperimentFactory(team=team, title="Churn only", hypothesis="h")
    assert listed(member_client.get(EXPERIMENTS, {"search": "churn features"})) == [newer, older]  # list's sort
    assert listed(member_client.get(EXPERIMENTS, {"search": "churn features", "sort": "started_at"})) == [older, newer]


def test_the_postmortem_list_searches_through_the_engine(member_client, team, engine_calls):
    found = PostMortemFactory(team=team, title="Checkout outage", what_happened="Connection pools exhausted")
    by_item = PostMortemFactory(team=team, title="Search outage")
    ActionItemFactory(postmortem=by_item, description="Resize the connection pool")
    PostMortemFactory(team=team, title="Billing outage")
    titles = {pm.title for pm in listed(member_client.get(POSTMORTEMS, {"search": "pool connections"}))}
    assert titles == {found.title, by_item.title}
    assert engine_calls == [("postmortems.postmortem", "pool connections")]


def test_restricted_records_stay_hidden(client, outsider, team):
    PostMortemFactory(team=team, title="Zanzibar credentials leaked", restricted=True)
    client.force_login(outsider)
    assert listed(client.get(POSTMORTEMS, {"search": "zanzibar"})) == []


def test_operators_only_fall_back_to_icontains(member_client, team, engine_calls):
    ExperimentFactory(team=team, title="Plain", hypothesis="h")
    assert listed(member_client.get(EXPERIMENTS, {"search": '"" - OR'})) == []
    assert engine_calls == [("experiments.experiment", '"" - OR')]


def test_without_an_engine_the_lists_use_icontains(member_client, team, no_engine):
    leak = ExperimentFactory(team=team, title="Target leakage", hypothesis="h")
    pm = PostMortemFactory(team=team, title="Checkout outage at noon")
    assert listed(member_client.get(EXPERIMENTS, {"search": "leaks"})) == []  # no stemming
    assert listed(member_client.get(EXPERIMENTS, {"search": "eakag"})) == [leak]  # substrings
    assert listed(member_client.get(POSTMORTEMS, {"search": "outage at"})) == [pm]
    assert Experiment.objects.count() == 1


def test_the_lessons_library_searches_through_the_engine(member_client, team, engine_calls):
    found = LessonFactory(team=team, text="Pin the tokenizer version before caching features")
    LessonFactory(team=team, text="Pin the random seed")
    page = member_client.get("/experiments/lessons/", {"search": "pinned tokenizers"})
    assert listed(page) == [found]  # stemmed, every word
    assert engine_calls == [("experiments.lesson", "pinned tokenizers")]


def test_the_lessons_library_hides_lessons_of_restricted_postmortems_from_search(client, outsider, team):
    secret = PostMortemFactory(team=team, restricted=True)
    LessonFactory(team=team, experiment=None, postmortem=secret, text="Zanzibar keys rotate monthly")
    client.force_login(outsider)
    assert listed(client.get("/experiments/lessons/", {"search": "zanzibar"})) == []


@pytest.mark.parametrize(("estimate_limit", "driver_limit"), [(50_000, 2_000), (50_000, 1), (0, 2_000)],
                         ids=["rarest word first", "rarest word matches too many", "no word rare enough"])
def test_a_multi_word_search_finds_the_same_records_however_it_starts(member_client, team, monkeypatch,
                                                                      estimate_limit, driver_limit):
    """On PostgreSQL a search starts from its rarest word and looks the others up among those
    records only; when no word is rare (or it matches many), each word is matched on its own.
    The records found are the same: words may sit in the record or in one of its lessons."""
    from learninghub.insights.search import selectors

    monkeypatch.setattr(selectors, "DRIVER_ESTIMATE_LIMIT", estimate_limit)
    monkeypatch.setattr(selectors, "DRIVER_LIMIT", driver_limit)
    both = ExperimentFactory(team=team, title="Churn model with zebra features", hypothesis="h",
                             started_at="2026-02-05T00:00Z")
    split = ExperimentFactory(team=team, title="Zebra dashboard", hypothesis="h", started_at="2026-01-05T00:00Z")
    LessonFactory(experiment=split, text="Churn is seasonal")
    ExperimentFactory(team=team, title="Churn only", hypothesis="h")
    ExperimentFactory(team=team, title="Zebra only", hypothesis="h")
    assert listed(member_client.get(EXPERIMENTS, {"search": "zebra churn"})) == [both, split]
    by_item = PostMortemFactory(team=team, title="Zebra outage")
    ActionItemFactory(postmortem=by_item, description="Watch churn alerts")
    PostMortemFactory(team=team, title="Zebra only outage")
    assert listed(member_client.get(POSTMORTEMS, {"search": "zebra churn"})) == [by_item]
