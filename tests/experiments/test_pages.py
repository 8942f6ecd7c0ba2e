"""The registry's pages: list (filters, search, sort, pagination), detail (metrics, lessons and
where they were applied, crash report, lineage with charts), the form, delete, lessons library."""

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from experiments.models import Experiment, Lesson, LessonApplication
from tests.factories import MembershipFactory, UserFactory
from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

LIST = "/experiments/"


def listed(response) -> list[Experiment]:
    assert response.status_code == 200
    return list(response.context["page_obj"].object_list)


# --- List ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url_name", ["experiments:list", "experiments:lessons", "experiments:create"])
def test_pages_need_sign_in(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_list_shows_every_teams_experiments(member_client, team, other_team):
    ours = ExperimentFactory(team=team, title="Ours", metrics={"ctr": 0.52})
    theirs = ExperimentFactory(team=other_team, title="Theirs")
    response = member_client.get(LIST)
    assert set(listed(response)) == {ours, theirs}
    assert b"ctr 0.52" in response.content
    assert f'href="/experiments/{ours.pk}/"'.encode() in response.content


def test_list_filters_use_the_shared_parameter_names(member_client, team, other_team):
    now = timezone.now()
    earlier = ExperimentFactory(team=team, failed=True, started_at=now - dt.timedelta(days=60))
    repeat = ExperimentFactory(team=team, failed=True, failure_kind="system", failure_mode="infrastructure",
                               repeat_of=earlier, started_at=now - dt.timedelta(days=20), is_novel=True)
    success = ExperimentFactory(team=other_team, succeeded=True, started_at=now - dt.timedelta(days=5))
    day = lambda days: (now - dt.timedelta(days=days)).date().isoformat()  # noqa: E731
    assert listed(member_client.get(LIST, {"team": "data-platform"})) == [success]
    assert listed(member_client.get(LIST, {"outcome": "failure", "failure_kind": "system"})) == [repeat]
    assert listed(member_client.get(LIST, {"failure_mode": "infrastructure"})) == [repeat]
    assert listed(member_client.get(LIST, {"is_novel": "true"})) == [repeat]
    assert listed(member_client.get(LIST, {"repeat": "true"})) == [repeat]
    assert listed(member_client.get(LIST, {"started_after": day(30), "started_before": day(10)})) == [repeat]
    assert listed(member_client.get(LIST, {"ended_after": day(40), "ended_before": day(18)})) == [repeat]
    assert listed(member_client.get(LIST, {"sort": "started_at"})) == [earlier, repeat, success]
    assert listed(member_client.get(LIST)) == [success, repeat, earlier]


def test_list_search_covers_lessons(member_client, team):
    hit = ExperimentFactory(team=team, title="Feature join")
    LessonFactory(experiment=hit, text="Upstream renamed the key column")
    ExperimentFactory(team=team, title="Something else")
    assert listed(member_client.get(LIST, {"search": "renamed key"})) == [hit]


@pytest.mark.parametrize("params", [
    {"started_after": "2026-13-45"}, {"ended_before": "soon"}, {"team": "nope"}, {"outcome": "great"},
    {"is_novel": "maybe"}, {"sort": "title"}, {"page": "abc"}, {"page": "9999"},
])
def test_bad_filter_values_are_form_errors_not_500s(member_client, team, params):
    ExperimentFactory(team=team)
    response = member_client.get(LIST, params)
    assert response.status_code == 200
    if "page" not in params:
        assert not response.context["filters_valid"]
        assert response.context["filter"].form.errors
        assert b"Some filters are not valid" in response.content


def test_list_paginates_and_keeps_filters_in_the_links(member_client, team):
    ExperimentFactory.create_batch(30, team=team, failed=True)
    response = member_client.get(LIST, {"outcome": "failure"})
    assert len(listed(response)) == 25
    assert b"outcome=failure&amp;page=2" in response.content
    assert len(listed(member_client.get(LIST, {"outcome": "failure", "page": 2}))) == 5


def test_list_query_count_does_not_grow_with_rows(member_client, team, django_assert_max_num_queries):
    for _ in range(3):
        LessonFactory(experiment=ExperimentFactory(team=team, builds_on=ExperimentFactory(team=team)))
    with django_assert_max_num_queries(20) as small:
        member_client.get(LIST)
    for _ in range(10):
        LessonFactory(experiment=ExperimentFactory(team=team, builds_on=ExperimentFactory(team=team)))
    with django_assert_max_num_queries(len(small.captured_queries)):
        member_client.get(LIST)


def test_empty_states(member_client, team, client):
    response = member_client.get(LIST)
    assert b"No experiments recorded yet" in response.content and b"Record the first one" in response.content
    ExperimentFactory(team=team)
    assert b"No experiment matches these filters" in member_client.get(LIST, {"search": "zzz"}).content


def test_people_without_a_team_see_no_create_button(client, team):
    client.force_login(UserFactory(username="loner"))
    assert not client.get(LIST).context["can_create"]
    assert client.get(reverse("experiments:create")).status_code == 403


# --- Detail ----------------------------------------------------------------------------------------

def test_detail_shows_fields_metrics_lessons_applications_and_next_steps(member_client, team, other_team):
    experiment = ExperimentFactory(team=team, title="Deep ranker", metrics={"ctr": 0.52, "latency_ms": 300},
                                   next_steps=["Split retrieval from ranking"], failed=True,
                                   failure_kind="productive")
    lesson = LessonFactory(experiment=experiment, text="Latency is a product requirement")
    applier = UserFactory(username="fran", first_name="Fran", last_name="Ito")
    later = ExperimentFactory(team=other_team, title="Two-tower v3")
    LessonApplicationFactory(lesson=lesson, experiment=later, applied_by=applier, note="Set a 100 ms budget")
    postmortem = PostMortemFactory(team=other_team, title="Latency incident")
    LessonApplicationFactory(lesson=lesson, experiment=None, postmortem=postmortem)
    response = member_client.get(experiment.get_absolute_url())
    content = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"<td>latency_ms</td><td class=\"num\">300</td>", content)
    assert "Latency is a product requirement" in content and "Split retrieval from ranking" in content
    assert f'href="/experiments/{later.pk}/">Two-tower v3</a>' in content
    assert "Fran Ito" in content and "Set a 100 ms budget" in content and "Latency incident" in content
    assert "Productive" in content


def test_detail_shows_the_crash_report(member_client, team):
    experiment = ExperimentFactory(team=team, crashed=True)
    content = member_client.get(experiment.get_absolute_url()).content.decode()
    assert "torch.OutOfMemoryError" in content and "CUDA out of memory" in content
    assert '<pre class="traceback">Traceback (most recent call last):' in content


def test_detail_shows_how_fast_a_failure_was_caught(member_client, team):
    stopped = ExperimentFactory(team=team, crashed=True, time_to_failure=dt.timedelta(minutes=12))
    content = member_client.get(stopped.get_absolute_url()).content.decode()
    assert re.search(r'<dd class="time-to-failure">12 minutes <span[^>]*>from start to the failure verdict', content)
    succeeded = ExperimentFactory(team=team, succeeded=True)
    assert "time-to-failure" not in member_client.get(succeeded.get_absolute_url()).content.decode()


def test_detail_lists_lessons_applied_here(member_client, team, other_team):
    source = ExperimentFactory(team=other_team, title="Backfill")
    lesson = LessonFactory(experiment=source, text="Chunk every backfill")
    experiment = ExperimentFactory(team=team)
    LessonApplicationFactory(lesson=lesson, experiment=experiment)
    content = member_client.get(experiment.get_absolute_url()).content.decode()
    assert "“Chunk every backfill”" in content and f'href="/experiments/{source.pk}/">Backfill</a>' in content


def test_lineage_chain_and_charts(member_client, lineage, team):
    v1, v2, v3, v4 = lineage
    branch = ExperimentFactory(team=team, title="Recsys v3 branch", builds_on=v2)
    response = member_client.get(v2.get_absolute_url())
    context = response.context
    assert context["lineage"].ancestors == [v1]
    assert context["lineage"].descendants == [(v3, 1), (v4, 2), (branch, 1)]
    charts = dict(context["lineage_charts"])
    assert set(charts) == {"ctr", "latency_ms"}
    ctr = json.loads(charts["ctr"])["data"][0]
    assert ctr["y"] == [0.45, 0.52, 0.68, 0.71]
    assert [item[0] for item in ctr["customdata"]] == [e.get_absolute_url() for e in (v1, v2, v3, v4)]
    latency = json.loads(charts["latency_ms"])["data"][0]
    assert latency["y"] == [300, 50]
    content = response.content.decode()
    assert 'id="lineage-ctr"' in content and "/vendor/plotly/plotly-basic" in content
    assert content.index("Recsys v1") < content.index("Recsys v2</strong>")


def test_an_experiment_without_lineage_has_no_chart(member_client, team):
    response = member_client.get(ExperimentFactory(team=team).get_absolute_url())
    assert response.context["lineage_charts"] == [] and b"/vendor/plotly/" not in response.content


def test_a_cycle_made_outside_the_rules_does_not_hang_the_page(member_client, lineage):
    v1, _v2, _v3, v4 = lineage
    Experiment.objects.filter(pk=v1.pk).update(builds_on=v4)
    assert member_client.get(v1.get_absolute_url()).status_code == 200


@pytest.fixture
def lead_only_client(lead):
    """A second, separate browser session (``member_client`` and ``lead_client`` share one)."""
    client = Client()
    client.force_login(lead)
    return client


def test_detail_buttons_follow_roles(member_client, lead_only_client, team):
    experiment = ExperimentFactory(team=team)
    member_page = member_client.get(experiment.get_absolute_url()).content.decode()
    assert "/edit/" in member_page and "/delete/" not in member_page
    assert "/delete/" in lead_only_client.get(experiment.get_absolute_url()).content.decode()


def test_unknown_experiment_is_404(member_client):
    assert member_client.get("/experiments/999999/").status_code == 404


# --- Form ------------------------------------------------------------------------------------------

def management(prefix: str, total: int) -> dict:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


def form_data(team, **overrides) -> dict:
    data = {"team": team.pk, "title": "Two-tower retrieval", "hypothesis": "ANN keeps latency low",
            "approach": "HNSW", "started_at": "2026-06-01T09:00", "ended_at": "2026-06-19T09:00",
            "outcome": "success", "failure_kind": "", "failure_mode": "",
            **management("metrics", 2), "metrics-0-name": "ctr", "metrics-0-value": "0.68",
            "metrics-1-name": "latency_ms", "metrics-1-value": "50",
            **management("lessons", 3), "lessons-0-text": "Latency is a constraint",
            "lessons-1-text": "Correct in-batch negatives", "lessons-2-text": "",
            **management("steps", 1), "steps-0-text": "Add session features"}
    data.update(overrides)
    return data


def test_create_form_renders_one_row_of_each(member_client):
    response = member_client.get(reverse("experiments:create"))
    assert response.status_code == 200
    for name in ["metrics-0-name", "lessons-0-text", "steps-0-text", "metrics-__prefix__-name"]:
        assert f'name="{name}"'.encode() in response.content


def test_create_with_metrics_lessons_steps_and_applied_lessons(member_client, member, team, other_team):
    earlier = LessonFactory(experiment=ExperimentFactory(team=other_team), text="Budget latency first",
                            documented_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    response = member_client.post(reverse("experiments:create"), form_data(team, applied_lessons=[earlier.pk]))
    experiment = Experiment.objects.get(title="Two-tower retrieval")
    assert response.status_code == 302 and response.url == experiment.get_absolute_url()
    assert experiment.metrics == {"ctr": 0.68, "latency_ms": 50}
    assert experiment.next_steps == ["Add session features"] and experiment.created_by == member
    assert list(experiment.lessons.values_list("text", flat=True)) == ["Latency is a constraint",
                                                                       "Correct in-batch negatives"]
    application = LessonApplication.objects.get()
    assert application.lesson == earlier and application.experiment == experiment
    # The form's times are the site's local time, as typed (started_at "2026-06-01T09:00").
    assert application.applied_at == dt.datetime(2026, 6, 1, 9, tzinfo=timezone.get_current_timezone())


def test_field_errors_keep_what_was_typed(member_client, team):
    data = form_data(team, **{"metrics-1-value": "fast", "ended_at": "2026-05-01T09:00", "title": "Kept title"})
    response = member_client.post(reverse("experiments:create"), data)
    assert response.status_code == 200 and not Experiment.objects.exists()
    content = response.content.decode()
    assert "Enter a number." in content
    assert 'value="Kept title"' in content and "Correct in-batch negatives" in content
    assert 'value="fast"' in content


def test_model_rules_show_on_their_fields(member_client, team):
    data = form_data(team, ended_at="2026-05-01T09:00", failure_mode="overfitting")
    response = member_client.post(reverse("experiments:create"), data)
    form = response.context["form"]
    assert "cannot end before it started" in form.errors["ended_at"][0]
    assert "successful experiment" in form.errors["failure_mode"][0]


def test_metric_rows_need_both_name_and_number_once(member_client, team):
    data = form_data(team, **{"metrics-1-name": "ctr"})
    response = member_client.post(reverse("experiments:create"), data)
    assert "appears twice" in response.content.decode()
    data = form_data(team, **{"metrics-1-name": ""})
    assert "Give this value a name." in member_client.post(reverse("experiments:create"), data).content.decode()


def test_only_my_teams_are_offered(member_client, team, other_team):
    form = member_client.get(reverse("experiments:create")).context["form"]
    assert list(form.fields["team"].queryset) == [team]
    response = member_client.post(reverse("experiments:create"), form_data(other_team))
    assert "team" in response.context["form"].errors and not Experiment.objects.exists()


def test_edit_prefills_and_saves_with_the_version(member_client, team):
    experiment = ExperimentFactory(team=team, metrics={"ctr": 0.5}, next_steps=["one"])
    kept = LessonFactory(experiment=experiment, text="Old lesson")
    applied_elsewhere = LessonApplicationFactory(lesson=kept, experiment=ExperimentFactory(team=team))
    page = member_client.get(reverse("experiments:edit", args=[experiment.pk]))
    rows = page.context["rows"]
    assert rows["metrics"].initial == [{"name": "ctr", "value": 0.5}]
    assert rows["lessons"].initial[0]["id"] == kept.pk
    data = form_data(team, version="1", **{"lessons-0-id": str(kept.pk), "lessons-0-text": "Old lesson",
                                           "lessons-1-text": "New lesson", "title": "Renamed"})
    response = member_client.post(reverse("experiments:edit", args=[experiment.pk]), data)
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.title == "Renamed" and experiment.version == 2
    assert list(experiment.lessons.values_list("text", flat=True)) == ["Old lesson", "New lesson"]
    assert LessonApplication.objects.filter(pk=applied_elsewhere.pk).exists()


def test_edit_with_a_stale_version_keeps_the_typing_and_explains(member_client, team):
    experiment = ExperimentFactory(team=team, title="Original")
    Experiment.objects.filter(pk=experiment.pk).update(version=2, title="Someone else's")
    response = member_client.post(reverse("experiments:edit", args=[experiment.pk]),
                                  form_data(team, version="1", title="Mine"))
    assert response.status_code == 409  # like the post-mortem form
    assert "changed by someone else" in response.content.decode() and 'value="Mine"' in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.title == "Someone else's" and experiment.version == 2


def test_another_teams_member_cannot_edit(client, outsider, team):
    experiment = ExperimentFactory(team=team)
    client.force_login(outsider)
    assert client.get(reverse("experiments:edit", args=[experiment.pk])).status_code == 403
    assert client.post(reverse("experiments:edit", args=[experiment.pk]), form_data(team)).status_code == 403


def test_the_team_of_an_experiment_cannot_change(member_client, team, other_team, member):
    MembershipFactory(user=member, team=other_team)
    experiment = ExperimentFactory(team=team)
    member_client.post(reverse("experiments:edit", args=[experiment.pk]), form_data(other_team, version="1"))
    experiment.refresh_from_db()
    assert experiment.team == team


# --- Delete ----------------------------------------------------------------------------------------

def test_only_leads_delete(member_client, lead_only_client, team):
    lead_client = lead_only_client
    experiment = ExperimentFactory(team=team)
    LessonFactory(experiment=experiment)
    url = reverse("experiments:delete", args=[experiment.pk])
    assert member_client.post(url).status_code == 403
    assert b"1 lesson" in lead_client.get(url).content
    response = lead_client.post(url)
    assert response.status_code == 302 and response.url == LIST
    assert not Experiment.objects.exists() and not Lesson.objects.exists()


# --- Lessons library and picker ----------------------------------------------------------------------

def test_lessons_library_shows_sources_and_applications(member_client, team, other_team):
    source = ExperimentFactory(team=team, title="Bloom filters")
    lesson = LessonFactory(experiment=source, text="Size filters from the peak")
    postmortem = PostMortemFactory(team=other_team, title="Dedup outage")
    pm_lesson = LessonFactory(experiment=None, postmortem=postmortem, team=other_team, text="Page the owner")
    LessonApplicationFactory(lesson=lesson, experiment=ExperimentFactory(team=other_team, title="Dedup v2"))
    response = member_client.get(reverse("experiments:lessons"))
    content = response.content.decode()
    assert set(listed(response)) == {lesson, pm_lesson}
    assert "Bloom filters" in content and "Dedup outage" in content and "Dedup v2" in content
    assert "applied 1 time" in content


def test_lessons_library_filters(member_client, team, other_team):
    now = timezone.now()
    applied = LessonFactory(experiment=ExperimentFactory(team=team), text="Chunk backfills",
                            documented_at=now - dt.timedelta(days=40))
    LessonApplicationFactory(lesson=applied, experiment=ExperimentFactory(team=team),
                             applied_at=now - dt.timedelta(days=30))
    unused = LessonFactory(experiment=ExperimentFactory(team=other_team), text="Check label balance")
    url = reverse("experiments:lessons")
    assert listed(member_client.get(url, {"applied": "true"})) == [applied]
    assert listed(member_client.get(url, {"applied": "false"})) == [unused]
    assert listed(member_client.get(url, {"team": "data-platform"})) == [unused]
    assert listed(member_client.get(url, {"search": "label"})) == [unused]
    assert listed(member_client.get(url, {"documented_before": (now - dt.timedelta(days=20)).date()})) == [applied]
    assert listed(member_client.get(url, {"applied_before": (now - dt.timedelta(days=20)).date()})) == [applied]
    bad = member_client.get(url, {"applied_before": "never"})
    assert bad.status_code == 200 and not bad.context["filters_valid"]


def test_restricted_postmortem_lessons_stay_hidden_from_other_teams(client, outsider, team):
    LessonFactory(experiment=None, postmortem=PostMortemFactory(team=team, restricted=True), team=team,
                  text="Secret lesson")
    client.force_login(outsider)
    assert b"Secret lesson" not in client.get(reverse("experiments:lessons")).content


def test_picker_searches_earlier_lessons_but_not_the_experiments_own(member_client, team):
    experiment = ExperimentFactory(team=team)
    LessonFactory(experiment=experiment, text="latency own lesson")
    other = LessonFactory(experiment=ExperimentFactory(team=team), text="latency budget first")
    LessonFactory(experiment=ExperimentFactory(team=team), text="unrelated")
    response = member_client.get(reverse("experiments:lesson-picker"), {"q": "latency", "exclude": experiment.pk})
    assert [row["id"] for row in response.json()["results"]] == [other.pk]
    assert member_client.get(reverse("experiments:lesson-picker"), {"exclude": "x"}).status_code == 200
