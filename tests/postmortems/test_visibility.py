"""Restricted post-mortems exist only for their own team's members: in lists, searches,
detail pages, exports, the API, action item lists and the counts shown to others."""

import pytest
from django.urls import reverse

from experiments.models import Lesson
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db

SECRET_TITLE = "Zanzibar credentials leaked in logs"
SECRET_ITEM = "Rotate the zanzibar keys"


@pytest.fixture
def secret(team, member):
    postmortem = PostMortemFactory(team=team, title=SECRET_TITLE, restricted=True, what_happened="- zanzibar")
    ActionItemFactory(postmortem=postmortem, owner=member, description=SECRET_ITEM, overdue=True)
    Lesson.objects.create(team=team, postmortem=postmortem, text="Never log zanzibar secrets")
    return postmortem


@pytest.fixture
def public(team, secret):
    """A visible post-mortem linked to the restricted one both ways."""
    earlier = PostMortemFactory(team=team, title="Visible earlier incident")
    secret.repeat_of = earlier
    secret.save()
    return PostMortemFactory(team=team, title="Visible later incident", repeat_of=secret)


def _pages(secret):
    return {
        "list": reverse("postmortems:list"),
        "search": reverse("postmortems:list") + "?search=zanzibar",
        "team filter": reverse("postmortems:list") + "?team=recsys",
        "action items": reverse("postmortems:action-items"),
        "action items search": reverse("postmortems:action-items") + "?search=zanzibar",
        "my action items": reverse("postmortems:my-action-items"),
    }


def test_members_see_restricted_records_everywhere(member_client, member_api, secret):
    for name, url in _pages(secret).items():
        page = member_client.get(url).content.decode()
        assert (SECRET_TITLE in page) and (SECRET_ITEM in page or "action" not in name), name
    assert member_client.get(secret.get_absolute_url()).status_code == 200
    assert member_client.get(reverse("postmortems:markdown", args=[secret.pk])).status_code == 200
    assert member_api.get(f"/api/v1/postmortems/{secret.pk}/").status_code == 200
    assert member_api.get("/api/v1/postmortems/").data["count"] == 1
    assert member_api.get("/api/v1/action-items/").data["count"] == 1


def test_other_teams_never_see_a_restricted_post_mortem(outsider_client, outsider_api, secret, public):
    for name, url in _pages(secret).items():
        page = outsider_client.get(url).content.decode()
        assert SECRET_TITLE not in page and SECRET_ITEM not in page, name
    for url in (secret.get_absolute_url(), reverse("postmortems:edit", args=[secret.pk]),
                reverse("postmortems:markdown", args=[secret.pk]), reverse("postmortems:delete", args=[secret.pk])):
        assert outsider_client.get(url).status_code == 404, url
    item = secret.action_items.get()
    assert outsider_client.post(reverse("postmortems:action-item-status", args=[item.pk]),
                                {"status": "done"}).status_code == 404
    # Counts shown to others leave it out.
    listing = outsider_client.get(reverse("postmortems:list"))
    assert listing.context["page_obj"].paginator.count == 2
    # A visible post-mortem does not reveal its restricted neighbours.
    later = outsider_client.get(public.get_absolute_url()).content.decode()
    assert SECRET_TITLE not in later
    earlier = outsider_client.get(secret.repeat_of.get_absolute_url()).content.decode()
    assert SECRET_TITLE not in earlier and "Repeated by" not in earlier


def test_the_api_hides_restricted_records_from_other_teams(outsider_api, secret, public):
    listing = outsider_api.get("/api/v1/postmortems/")
    assert listing.data["count"] == 2
    assert SECRET_TITLE not in str(listing.data)
    assert outsider_api.get("/api/v1/postmortems/?search=zanzibar").data["count"] == 0
    assert outsider_api.get(f"/api/v1/postmortems/{secret.pk}/").status_code == 404
    assert outsider_api.get(f"/api/v1/postmortems/{secret.pk}/markdown/").status_code == 404
    assert outsider_api.patch(f"/api/v1/postmortems/{secret.pk}/", {"title": "x"}, format="json").status_code == 404
    later = outsider_api.get(f"/api/v1/postmortems/{public.pk}/").data
    assert later["repeat_of"] is None
    item = secret.action_items.get()
    assert outsider_api.get("/api/v1/action-items/").data["count"] == 0
    assert outsider_api.get(f"/api/v1/action-items/{item.pk}/").status_code == 404
    assert outsider_api.patch(f"/api/v1/action-items/{item.pk}/", {"status": "done"},
                              format="json").status_code == 404
    # Nor can it be linked to.
    response = outsider_api.post("/api/v1/postmortems/", {
        "team": "data-platform", "title": "Linking", "repeat_of": secret.pk}, format="json")
    assert response.status_code == 400 and "repeat_of" in response.data


def test_an_owner_who_left_the_team_no_longer_sees_the_item(outsider_client, outsider, secret):
    """Counts on "My action items" are counted over visible records only."""
    ActionItemFactory(postmortem=secret, owner=outsider, description="Left behind zanzibar", overdue=True)
    response = outsider_client.get(reverse("postmortems:my-action-items"))
    assert response.context["counts"] == {"open": 0, "overdue": 0, "done": 0, "all": 0}
    assert "Left behind zanzibar" not in response.content.decode()


def test_editing_keeps_a_link_to_a_post_mortem_the_editor_cannot_see(member_client, member_api, team, other_team):
    hidden = PostMortemFactory(team=other_team, title="Other team's secret", restricted=True)
    mine = PostMortemFactory(team=team, title="Ours", repeat_of=hidden, repeat_link_source="automatic", draft=True)
    form = member_client.get(reverse("postmortems:edit", args=[mine.pk])).context["form"]
    assert "repeat_of" not in form.fields
    response = member_api.patch(f"/api/v1/postmortems/{mine.pk}/", {"title": "Ours, renamed"}, format="json")
    assert response.status_code == 200 and response.data["repeat_of"] is None
    mine.refresh_from_db()
    assert mine.repeat_of == hidden and mine.repeat_link_source == "automatic"
    assert "Other team's secret" not in member_client.get(mine.get_absolute_url()).content.decode()


def test_a_restricted_lesson_applied_in_a_visible_experiment_stays_hidden(client, member, outsider, team, secret):
    from experiments.models import LessonApplication
    from tests.factories.experiments import ExperimentFactory

    experiment = ExperimentFactory(team=team, title="Visible experiment")
    LessonApplication.objects.create(lesson=secret.lessons.get(), experiment=experiment, note="Rotated keys")
    client.force_login(member)
    assert "Never log zanzibar secrets" in client.get(experiment.get_absolute_url()).content.decode()
    client.force_login(outsider)
    page = client.get(experiment.get_absolute_url()).content.decode()
    assert "Never log zanzibar secrets" not in page and SECRET_TITLE not in page and "Rotated keys" not in page


def test_applications_in_a_restricted_post_mortem_are_not_counted_for_others(member_api, outsider_api,
                                                                               outsider_client, team, secret):
    from experiments.models import LessonApplication

    visible = PostMortemFactory(team=team, title="Visible incident")
    lesson = Lesson.objects.create(team=team, postmortem=visible, text="Check the dashboards first")
    LessonApplication.objects.create(lesson=lesson, postmortem=secret)

    def count(api):
        rows = {row["id"]: row for row in api.get("/api/v1/lessons/").data["results"]}
        return rows[lesson.pk]["application_count"]

    assert count(member_api) == 1 and count(outsider_api) == 0
    assert "applied 1 time" not in outsider_client.get(visible.get_absolute_url()).content.decode()
