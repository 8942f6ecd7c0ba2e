"""The registry's lists at scale: a constant number of queries whatever the rows, counts that
never read a whole large table (exact below the cap, an estimate above it, ``next`` always
exact), deep pages read by key, the lesson count per row, one query per lineage, the detail
page of an experiment without a creator, and the partial plotly.js bundle."""

import datetime as dt
import gzip
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.templatetags.static import static
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from experiments.models import Experiment
from learninghub.kernel import search as kernel_search
from learninghub.kernel.api import pagination
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory

pytestmark = pytest.mark.django_db

LIST = "/experiments/"
LESSONS = "/experiments/lessons/"
API = "/api/v1/experiments/"
LESSONS_API = "/api/v1/lessons/"
PLOTLY = Path(settings.BASE_DIR) / "static" / "vendor" / "plotly"


def _fill(team, other_team, count: int) -> None:
    for index in range(count):
        experiment = ExperimentFactory(team=team if index % 2 else other_team, failed=True,
                                       metrics={"ctr": 0.1 * index})
        LessonFactory.create_batch(2, experiment=experiment)
        LessonApplicationFactory(lesson=LessonFactory(experiment=ExperimentFactory(team=team)),
                                 experiment=experiment)


def _counts(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if re.search(r"\bCOUNT\(\*\)", q["sql"])]


# --- Constant query counts (exact baselines) --------------------------------------------------

@pytest.mark.parametrize(("url", "queries"), [
    # session, user, count, page keys, the page, teams (filter form), memberships (visibility);
    # the page shows lesson counts, not the lessons (the API loads those: 2 more queries)
    (LIST, 7),
    (f"{LIST}?outcome=failure&page=2", 7),
    # + the hidden-lessons note
    (LESSONS, 8),
    (API, 7),
    (f"{API}?page_size=200", 7),
    (LESSONS_API, 5),
])
def test_lists_run_a_constant_number_of_queries(member_client, team, other_team, url, queries,
                                                django_assert_num_queries):
    _fill(team, other_team, 3)
    with django_assert_num_queries(queries):
        assert member_client.get(url).status_code in (200, 404)
    _fill(team, other_team, 30)
    with django_assert_num_queries(queries):
        assert member_client.get(url).status_code == 200


def test_no_list_counts_a_whole_table(member_client, team, other_team):
    _fill(team, other_team, 3)
    for url in (LIST, f"{LIST}?page=1", LESSONS, API, LESSONS_API, f"{API}?team={team.slug}"):
        with CaptureQueriesContext(connection) as captured:
            assert member_client.get(url).status_code == 200
        counts = _counts(captured)
        assert counts, url
        assert all("LIMIT" in sql for sql in counts), (url, counts)


# --- Counts past the cap ----------------------------------------------------------------------

@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)


def test_past_the_cap_the_page_says_about_and_has_no_last_link(member_client, team, small_cap):
    ExperimentFactory.create_batch(60, team=team)
    response = member_client.get(LIST)
    page = response.context["page_obj"]
    content = response.content.decode()
    assert len(page.object_list) == 25 and page.has_next()
    assert not page.paginator.count_is_exact and page.paginator.count >= 10
    assert "of about" in content and "Next ›" in content and "Last »" not in content
    # The last page is found exactly: the count goes as far as the page asked for.
    last = member_client.get(LIST, {"page": 3}).context["page_obj"]
    assert len(last.object_list) == 10 and not last.has_next() and last.paginator.count == 60
    assert last.paginator.count_is_exact
    # Past the end: the last page (as before), never a 500.
    assert member_client.get(LIST, {"page": 99}).context["page_obj"].number == 3


def test_below_the_cap_the_count_is_exact(member_client, team):
    ExperimentFactory.create_batch(30, team=team)
    response = member_client.get(LIST)
    assert response.context["page_obj"].paginator.count_is_exact
    assert "Page 1 of 2 (30 in all)" in response.content.decode() and "Last »" in response.content.decode()


def test_api_past_the_cap_keeps_its_shape_and_exact_next(member_api, team, small_cap):
    ExperimentFactory.create_batch(30, team=team)
    first = member_api.get(API, {"page_size": 10}).json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert len(first["results"]) == 10 and first["next"] and first["previous"] is None
    assert first["count"] >= 11
    last = member_api.get(API, {"page_size": 10, "page": 3}).json()
    assert len(last["results"]) == 10 and last["next"] is None and last["count"] == 30
    assert member_api.get(API, {"page_size": 10, "page": 4}).status_code == 404
    exact_last = member_api.get(API, {"page_size": 10, "page": "last"}).json()
    assert exact_last["count"] == 30 and exact_last["next"] is None and len(exact_last["results"]) == 10


def test_every_page_has_the_rows_an_offset_would_give(member_api, team):
    start = timezone.now() - dt.timedelta(days=30)
    for index in range(12):  # ties on started_at are broken by id, newest first
        ExperimentFactory(team=team, started_at=start + dt.timedelta(days=index // 3))
    expected = list(Experiment.objects.order_by("-started_at", "-id").values_list("pk", flat=True))
    seen = []
    for number in (1, 2, 3):
        seen += [row["id"] for row in member_api.get(API, {"page_size": 5, "page": number}).json()["results"]]
    assert seen == expected


# --- What the rows carry ----------------------------------------------------------------------

def test_lesson_counts_are_per_experiment(member_api, team):
    with_lessons = ExperimentFactory(team=team, failed=True)
    LessonFactory.create_batch(3, experiment=with_lessons)
    without = ExperimentFactory(team=team)
    counts = {row["id"]: row["lesson_count"] for row in member_api.get(API).json()["results"]}
    assert counts == {with_lessons.pk: 3, without.pk: 0}


def test_lesson_api_counts_applications_per_lesson(member_api, team):
    lesson = LessonFactory(experiment=ExperimentFactory(team=team, failed=True))
    LessonApplicationFactory.create_batch(2, lesson=lesson, experiment=ExperimentFactory(team=team))
    unused = LessonFactory(experiment=ExperimentFactory(team=team, failed=True))
    counts = {row["id"]: row["application_count"] for row in member_api.get(LESSONS_API).json()["results"]}
    assert counts == {lesson.pk: 2, unused.pk: 0}


@pytest.fixture
def no_engine():
    previous = kernel_search.register_text_search(None)
    yield
    kernel_search.register_text_search(previous)


def test_fallback_search_matches_own_fields_or_lessons_for_every_word(member_client, team, no_engine):
    by_title = ExperimentFactory(team=team, title="Shard rebalancing", hypothesis="Faster reads")
    by_lesson = ExperimentFactory(team=team, title="Cache warmup", hypothesis="Faster reads", failed=True)
    LessonFactory(experiment=by_lesson, text="Shard keys must be stable")
    ExperimentFactory(team=team, title="Shard only", hypothesis="Nothing else")
    response = member_client.get(LIST, {"search": "shard faster"})
    assert set(response.context["page_obj"].object_list) == {by_title, by_lesson}


# --- Detail page ------------------------------------------------------------------------------

def test_detail_of_an_experiment_without_a_creator(member_client, team):
    experiment = ExperimentFactory(team=team, created_by=None, title="Imported run")
    response = member_client.get(experiment.get_absolute_url())
    assert response.status_code == 200
    assert re.search(r"<dt>Recorded by</dt><dd>—", response.content.decode())


def test_review_queue_with_a_decision_by_a_deleted_user(lead_client, team, settings):
    """The same template pattern as the detail page (a name from a nullable user as a filter
    argument) on the repeats review queue: its person may be gone (``SET_NULL``)."""
    from learninghub.insights.repeats.models import RepeatCandidate, RepeatDecision
    from learninghub.insights.repeats.tasks import detect_repeat

    settings.REPEAT_AUTO_LINK_THRESHOLD = 1.01  # nothing links by itself: the candidate waits
    hypothesis = "In-batch negatives improve recall of the two-tower retrieval model"
    ExperimentFactory(team=team, failed=True, title="Two-tower retrieval", hypothesis=hypothesis,
                      started_at=timezone.now() - dt.timedelta(days=60))
    later = ExperimentFactory(team=team, failed=True, title="Two-tower retrieval v2", hypothesis=hypothesis,
                              started_at=timezone.now() - dt.timedelta(days=5))
    detect_repeat.delay("experiment", later.pk)
    candidate = RepeatCandidate.objects.get(experiment=later)
    RepeatDecision.objects.create(candidate=candidate, from_status="rejected", to_status="pending", by=None)
    response = lead_client.get(reverse("repeats:queue"))
    assert response.status_code == 200
    assert "by someone" in response.content.decode()


def _chain(team, length: int) -> list[Experiment]:
    start = timezone.now() - dt.timedelta(days=400)
    chain = [ExperimentFactory(team=team, started_at=start, metrics={"ctr": 0.1})]
    for index in range(1, length):
        chain.append(ExperimentFactory(team=team, builds_on=chain[-1], metrics={"ctr": 0.1 + index / 100},
                                       started_at=start + dt.timedelta(days=index)))
    return chain


def test_lineage_is_one_query_whatever_its_length(member_client, team, django_assert_num_queries):
    short = _chain(team, 3)
    with CaptureQueriesContext(connection) as baseline:
        response = member_client.get(short[1].get_absolute_url())
    assert [node.pk for node in response.context["lineage"].chain] == [e.pk for e in short]
    long = _chain(team, 40)
    with django_assert_num_queries(len(baseline.captured_queries)):
        response = member_client.get(long[20].get_absolute_url())
    lineage = response.context["lineage"]
    assert [node.pk for node in lineage.ancestors] == [e.pk for e in long[:20]]
    assert [(node.pk, depth) for node, depth in lineage.descendants] == [(e.pk, i) for i, e in
                                                                        enumerate(long[21:], start=1)]


# --- Chart JS ---------------------------------------------------------------------------------

def test_pages_load_the_partial_plotly_bundle_under_500_kb_gzipped(member_client, lineage):
    content = member_client.get(lineage[1].get_absolute_url()).content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', content)
    plotly = [src for src in scripts if "plotly" in src]
    assert len(plotly) == 1 and "/static/vendor/plotly/plotly-basic" in plotly[0]
    bundle = (PLOTLY / "plotly-basic.min.js").read_bytes()
    assert bundle.startswith(b"/**\n* plotly.js (basic - minified) v")
    assert len(gzip.compress(bundle, compresslevel=9)) <= 500_000
    assert "MIT" in (PLOTLY / "LICENSE").read_text()


def test_the_bundle_is_served_compressed(client):
    """Precompressed by collectstatic (``make test``) or compressed on the fly before it (plain
    pytest, DEBUG): gzip either way, under 500 kB on the wire."""
    response = client.get(static("vendor/plotly/plotly-basic.min.js"), headers={"accept-encoding": "gzip"})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert len(body) <= 500_000 and gzip.decompress(body) == (PLOTLY / "plotly-basic.min.js").read_bytes()


def test_html_is_gzipped_for_clients_that_accept_it(member_client, team):
    ExperimentFactory.create_batch(5, team=team)
    response = member_client.get(LIST, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert b"Experiments" in gzip.decompress(response.content)
    assert "Content-Encoding" not in member_client.get(LIST)
