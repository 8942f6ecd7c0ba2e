"""'Have we tried this before?': the fragment the experiment and post-mortem forms fetch while a
person types — the closest earlier records of the team and the organisation with their outcome and
lessons, one-click links, visibility, bad input and a bounded query count."""

import pytest
from django.urls import reverse

from experiments.models import Lesson
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

URL = reverse("search:similar")


def similar(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


@pytest.fixture
def deep_ranker(team):
    """An earlier failed experiment of the team, and what it taught."""
    experiment = ExperimentFactory(team=team, failed=True, title="Deep ranker for the home feed",
                                   hypothesis="A deeper ranking network lifts click-through",
                                   approach="Twelve layers instead of four")
    LessonFactory(experiment=experiment, text="Latency is a product requirement, not an afterthought")
    return experiment


def test_typing_a_hypothesis_shows_the_similar_earlier_failure_and_its_lesson(member_client, team, deep_ranker):
    # A fixed approach: the factory's random paragraph could hold one of the words looked for.
    ExperimentFactory(team=team, title="Holiday banner colours", hypothesis="Red banners sell more gifts",
                      approach="Three palettes, one week each")
    page = similar(member_client, kind="experiment", team=team.slug, title="Deeper ranker",
                   hypothesis="A deeper ranking network will lift click-through on the home feed")
    assert "1 similar experiment failed" in page and "what they learned" in page
    assert "Latency is a product requirement" in page
    assert deep_ranker.get_absolute_url() in page and "Holiday banner" not in page
    assert f'data-similar-fill="builds_on" data-id="{deep_ranker.pk}"' in page
    assert f'data-similar-fill="repeat_of" data-id="{deep_ranker.pk}"' in page
    lesson = deep_ranker.lessons.get()
    assert f'data-similar-lesson="{lesson.pk}"' in page and "Applies this lesson" in page


def test_the_teams_records_come_first_then_the_organisations(member_client, team, other_team, deep_ranker):
    theirs = ExperimentFactory(team=other_team, failed=True, title="Deep ranker for search results",
                               hypothesis="A deeper ranking network lifts click-through on search")
    page = similar(member_client, kind="experiment", team_id=team.pk, title="Deep ranker",
                   hypothesis="deeper ranking network")
    ours_at, heading_at, theirs_at = (page.index(deep_ranker.get_absolute_url()),
                                      page.index("Elsewhere in the organisation"),
                                      page.index(theirs.get_absolute_url()))
    assert page.index(f"In {team.name}") < ours_at < heading_at < theirs_at
    assert "2 similar experiments failed" in page


def test_a_successful_experiment_can_be_built_on_but_not_repeated(member_client, team):
    success = ExperimentFactory(team=team, succeeded=True, title="Session features for the ranker")
    page = similar(member_client, kind="experiment", team=team.slug, title="Session features ranker")
    assert f'data-similar-fill="builds_on" data-id="{success.pk}"' in page
    assert f'data-similar-fill="repeat_of" data-id="{success.pk}"' not in page
    assert "similar experiment failed" not in page


def test_the_post_mortem_form_offers_repeat_of_and_the_teams_experiment_it_reviews(member_client, team,
                                                                                   other_team):
    earlier = PostMortemFactory(team=team, title="Feature pipeline fed nulls to training",
                                root_cause="- No schema validation between the pipeline and training")
    Lesson.objects.create(team=team, postmortem=earlier, text="Validate data at every boundary")
    ours = ExperimentFactory(team=team, failed=True, title="Feature pipeline rewrite on Spark")
    theirs = ExperimentFactory(team=other_team, failed=True, title="Feature pipeline on Beam")
    page = similar(member_client, kind="postmortem", team=team.slug, title="Feature pipeline failure",
                   root_cause="schema validation missing")
    assert f'data-similar-fill="repeat_of" data-id="{earlier.pk}"' in page
    assert "Validate data at every boundary" in page and "Applies this lesson" not in page
    assert f'data-similar-fill="experiment" data-id="{ours.pk}"' in page
    assert theirs.get_absolute_url() in page  # shown for what it taught, but not linkable from this team
    assert f'data-similar-fill="experiment" data-id="{theirs.pk}"' not in page


def test_a_restricted_post_mortem_of_another_team_never_appears(member_client, outsider, client, team, other_team):
    secret = PostMortemFactory(team=other_team, restricted=True, title="Zanzibar ranker outage",
                               what_happened="- the zanzibar ranker fell over")
    Lesson.objects.create(team=other_team, postmortem=secret, text="Zanzibar needs a canary")
    params = {"kind": "postmortem", "team": team.slug, "title": "Zanzibar ranker outage"}
    page = similar(member_client, **params)
    assert "Zanzibar" not in page and secret.get_absolute_url() not in page
    client.force_login(outsider)  # a member of its own team sees it
    assert "Zanzibar needs a canary" in similar(client, **params)


def test_the_record_being_edited_is_not_similar_to_itself(member_client, team, deep_ranker):
    page = similar(member_client, kind="experiment", team=team.slug, exclude=deep_ranker.pk,
                   title=deep_ranker.title, hypothesis=deep_ranker.hypothesis)
    assert deep_ranker.get_absolute_url() not in page
    assert "No similar earlier experiment or post-mortem found." in page


@pytest.mark.parametrize("params", [
    {"kind": "experiment"},
    {"kind": "experiment", "title": ""},
    {"kind": "experiment", "title": "ranker " * 2000},
    {"kind": "experiment", "title": "deep\x00ranker", "hypothesis": "\x00\x01"},
    {"kind": "postmortem", "title": '"" - OR', "root_cause": "-"},
    {"kind": "experiment", "title": "深度排序模型 глубокий ранжировщик"},
    {"kind": "experiment", "title": "deep ranker", "team_id": "abc", "exclude": "-1"},
    {"kind": "experiment", "title": "deep ranker", "team_id": "99999999999999999999999", "team": "nope"},
])
def test_bad_input_is_answered_never_a_500(member_client, team, deep_ranker, params):
    # NUL bytes and integers beyond 64 bits are refused by the request guard (a 400 naming the field).
    refused = "\x00" in "".join(params.values()) or any(len(v) > 18 and v.isdigit() for v in params.values())
    assert member_client.get(URL, params).status_code == (400 if refused else 200)


def test_an_unknown_kind_is_a_clear_400(member_client):
    response = member_client.get(URL, {"kind": "award", "title": "x"})
    assert response.status_code == 400 and b"experiment or postmortem" in response.content


def test_signed_out_people_are_sent_to_sign_in(client):
    assert client.get(URL, {"kind": "experiment", "title": "deep ranker"}).status_code == 302


def test_the_fragment_costs_a_fixed_number_of_queries(member_client, team, other_team,
                                                      django_assert_max_num_queries):
    for number in range(12):
        experiment = ExperimentFactory(team=team if number % 2 else other_team, failed=True,
                                       title=f"Deep ranker attempt {number}", hypothesis="deeper ranking network")
        LessonFactory.create_batch(3, experiment=experiment, text=f"Ranker lesson {number}")
    for number in range(4):
        postmortem = PostMortemFactory(team=team, title=f"Deep ranker outage {number}")
        Lesson.objects.create(team=team, postmortem=postmortem, text=f"Outage lesson {number}")
    member_client.get(URL, {"kind": "experiment", "title": "warm-up"})
    with django_assert_max_num_queries(10):
        page = similar(member_client, kind="experiment", team=team.slug, title="Deep ranker",
                       hypothesis="deeper ranking network")
    assert page.count('class="similar-record"') == 10  # five of the team's, five of the others'


def test_the_forms_carry_the_panel_and_load_the_scripts_from_files(member_client, team):
    for url in (reverse("experiments:create"), reverse("postmortems:create")):
        page = member_client.get(url).content.decode()
        assert f'data-url="{URL}"' in page and "data-similar" in page
        assert 'src="/static/js/similar.js"' in page and 'src="/static/js/picker.js"' in page
        assert "<style" not in page and " style=" not in page
