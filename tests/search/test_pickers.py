"""Type-ahead pickers: the JSON endpoint behind them (results, narrowing, visibility, bad input)
and the form fields they fill (never rendered as a list of every record; a submitted id is checked
against what the person may pick; the chosen label survives a validation error)."""

import pytest
from django.urls import reverse

from experiments.models import Experiment
from postmortems.models import PostMortem
from tests.experiments.test_pages import form_data as experiment_form_data
from tests.factories import MembershipFactory, UserFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory
from tests.postmortems.helpers import form_data as postmortem_form_data

pytestmark = pytest.mark.django_db

URL = reverse("search:pick")


def picked(client, **params) -> list[dict]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


def ids(results) -> list[int]:
    return [row["id"] for row in results]


# --- The endpoint -------------------------------------------------------------------------------


def test_experiments_matching_the_typed_words_with_label_team_outcome_and_link(member_client, team):
    ranker = ExperimentFactory(team=team, failed=True, title="Deep ranker for the home feed")
    ExperimentFactory(team=team, title="Holiday banner colours")
    [row] = picked(member_client, kind="experiment", q="ranker")
    assert row == {"id": ranker.pk, "label": f"Deep ranker for the home feed · {team.name} · "
                                             f"{ranker.started_at:%Y-%m-%d}",
                   "team": team.name, "outcome": "failure", "url": ranker.get_absolute_url()}


def test_narrowed_by_outcome_team_and_the_record_being_edited(member_client, team, other_team):
    failed = ExperimentFactory(team=team, failed=True, title="Ranker v1")
    succeeded = ExperimentFactory(team=team, succeeded=True, title="Ranker v2")
    elsewhere = ExperimentFactory(team=other_team, failed=True, title="Ranker v3")
    assert set(ids(picked(member_client, kind="experiment", q="ranker"))) == {failed.pk, succeeded.pk, elsewhere.pk}
    assert set(ids(picked(member_client, kind="experiment", q="ranker", outcome="failure"))) == {
        failed.pk, elsewhere.pk}
    assert ids(picked(member_client, kind="experiment", q="ranker", team=team.slug, outcome="failure")) == [
        failed.pk]
    assert failed.pk not in ids(picked(member_client, kind="experiment", q="ranker", exclude=failed.pk))


def test_an_empty_query_offers_the_most_recent(member_client, team, clock):
    older = ExperimentFactory(team=team, title="Older")
    clock.shift(60)
    newer = ExperimentFactory(team=team, title="Newer", started_at=older.started_at.replace(year=2027))
    assert ids(picked(member_client, kind="experiment", q="", team_id=team.pk))[:2] == [newer.pk, older.pk]


def test_a_restricted_post_mortem_is_offered_only_to_its_team(member_client, client, outsider, team, other_team):
    secret = PostMortemFactory(team=other_team, restricted=True, title="Zanzibar outage")
    public = PostMortemFactory(team=other_team, title="Zanzibar dashboard slow")
    assert ids(picked(member_client, kind="postmortem", q="zanzibar")) == [public.pk]
    assert secret.pk not in ids(picked(member_client, kind="postmortem", q=""))
    client.force_login(outsider)
    assert set(ids(picked(client, kind="postmortem", q="zanzibar"))) == {secret.pk, public.pk}


def test_owners_are_the_teams_active_members_matching_the_name(member_client, team, member, other_team, outsider):
    otto = MembershipFactory(team=team, user=UserFactory(username="otto", first_name="Otto", last_name="Owner")).user
    MembershipFactory(team=team, user=UserFactory(username="gone", first_name="Otto", is_active=False))
    assert picked(member_client, kind="user", q="otto", team_id=team.pk) == [
        {"id": otto.pk, "label": "Otto Owner (otto)", "team": team.name, "outcome": "", "url": ""}]
    assert set(ids(picked(member_client, kind="user", q="", team=team.slug))) == {member.pk, otto.pk}
    assert outsider.pk not in ids(picked(member_client, kind="user", q="olga"))  # not in my teams


@pytest.mark.parametrize("params, status", [
    ({"kind": "award", "q": "x"}, 400),
    ({"kind": "experiment", "outcome": "maybe"}, 400),
    ({"q": "x"}, 400),
    ({"kind": "experiment", "q": "ranker " * 2000}, 200),
    ({"kind": "experiment", "q": "deep\x00ranker"}, 400),  # refused by the request guard
    ({"kind": "postmortem", "q": '"" - OR'}, 200),
    ({"kind": "experiment", "q": "深度 ранжировщик"}, 200),
    ({"kind": "user", "q": "x", "team_id": "abc", "team": "nope"}, 200),
    ({"kind": "experiment", "q": "x", "exclude": "99999999999999999999999"}, 400),  # beyond 64 bits: the guard
])
def test_bad_input_is_a_clear_400_or_an_answer_never_a_500(member_client, team, params, status):
    ExperimentFactory(team=team, title="Deep ranker")
    assert member_client.get(URL, params).status_code == status


# --- The form fields ------------------------------------------------------------------------------


def test_the_experiment_form_lists_no_experiments_and_shows_the_chosen_ones_label(member_client, team):
    earlier = ExperimentFactory(team=team, failed=True, title="Deep ranker for the home feed")
    ExperimentFactory(team=team, title="Unrelated experiment nobody chose")
    experiment = ExperimentFactory(team=team, title="Deeper ranker", builds_on=earlier)
    page = member_client.get(reverse("experiments:edit", args=[experiment.pk])).content.decode()
    assert "Unrelated experiment nobody chose" not in page
    assert f'name="builds_on" value="{earlier.pk}"' in page
    assert f'value="Deep ranker for the home feed · {team.name} · {earlier.started_at:%Y-%m-%d}"' in page
    assert f'data-picker-query="exclude={experiment.pk}"' in page
    assert 'data-picker-query="outcome=failure&amp;exclude=' in page


def test_a_picked_id_is_saved_and_kept_with_its_label_after_a_validation_error(member_client, team):
    earlier = ExperimentFactory(team=team, failed=True, title="Deep ranker for the home feed")
    response = member_client.post(reverse("experiments:create"),
                                  experiment_form_data(team, builds_on=earlier.pk, hypothesis=""))
    page = response.content.decode()
    assert response.status_code == 200 and "This field is required." in page
    assert f'name="builds_on" value="{earlier.pk}"' in page and 'value="Deep ranker for the home feed · ' in page
    member_client.post(reverse("experiments:create"), experiment_form_data(team, builds_on=earlier.pk))
    assert Experiment.objects.get(title="Two-tower retrieval").builds_on == earlier


def test_an_id_outside_the_pickers_choices_is_a_field_error(member_client, team):
    succeeded = ExperimentFactory(team=team, succeeded=True, title="It worked")
    response = member_client.post(reverse("experiments:create"),
                                  experiment_form_data(team, repeat_of=succeeded.pk, builds_on=999999))
    form = response.context["form"]
    assert set(form.errors) >= {"repeat_of", "builds_on"}
    assert "Select a valid choice" in form.errors["repeat_of"][0]
    assert not Experiment.objects.filter(title="Two-tower retrieval").exists()


def test_a_post_mortem_cannot_repeat_one_the_author_may_not_see(member_client, team, other_team):
    secret = PostMortemFactory(team=other_team, restricted=True, title="Zanzibar outage")
    response = member_client.post(reverse("postmortems:create"),
                                  postmortem_form_data(team=team, title="Another outage", repeat_of=secret.pk))
    assert response.status_code == 400
    assert "Select a valid choice" in response.context["form"].errors["repeat_of"][0]
    page = response.content.decode()
    assert "Zanzibar" not in page and f'name="repeat_of" value="{secret.pk}"' not in page
    assert not PostMortem.objects.filter(title="Another outage").exists()


def test_the_post_mortem_form_picks_experiment_repeat_and_owners_by_typing(member_client, team, member):
    ExperimentFactory(team=team, title="An experiment nobody chose")
    PostMortemFactory(team=team, title="A post-mortem nobody chose")
    page = member_client.get(reverse("postmortems:create")).content.decode()
    assert "nobody chose" not in page
    for name, kind in (("experiment", "experiment"), ("repeat_of", "postmortem"), ("items-0-owner", "user")):
        assert f'name="{name}" value=""' in page and f'data-picker="{kind}"' in page
    assert page.count('data-picker="user"') == 2  # the first row and the add-row template
