"""Action item behaviour: completing stamps completed_at and records a lesson application
(idempotently); reopening withdraws both; status changes in place, only on Save, with Undo; the
action item pages ("My action items" opens on the unfinished ones)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from experiments.models import Lesson, LessonApplication
from tests.factories import UserFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db


def status_url(item) -> str:
    return reverse("postmortems:action-item-status", args=[item.pk])


@pytest.fixture
def lesson(team):
    earlier = PostMortemFactory(team=team, title="Earlier incident")
    return Lesson.objects.create(team=team, postmortem=earlier, text="Validate before training",
                                 documented_at=timezone.now() - dt.timedelta(days=30))


def test_done_stamps_completed_at_and_records_the_lesson_application_once(member_client, team, member, lesson):
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, lesson=lesson)
    response = member_client.post(status_url(item), {"status": "done"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["status"] == "done"
    item.refresh_from_db()
    assert item.completed_at is not None
    application = LessonApplication.objects.get()
    assert (application.lesson, application.postmortem, application.action_item, application.applied_at) == (
        lesson, item.postmortem, item, item.completed_at)
    # Marking it done again (double click, retry) records nothing more and keeps the first time.
    first_completed = item.completed_at
    member_client.post(status_url(item), {"status": "done"}, HTTP_ACCEPT="application/json")
    item.refresh_from_db()
    assert LessonApplication.objects.count() == 1 and item.completed_at == first_completed


def test_reopening_clears_completed_at_and_withdraws_the_application(member_client, team, member, lesson):
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, lesson=lesson)
    member_client.post(status_url(item), {"status": "done"})
    assert LessonApplication.objects.count() == 1
    member_client.post(status_url(item), {"status": "in_progress"})
    item.refresh_from_db()
    assert item.status == "in_progress" and item.completed_at is None
    assert not LessonApplication.objects.exists()
    member_client.post(status_url(item), {"status": "done"})
    assert LessonApplication.objects.count() == 1


def test_done_without_a_lesson_records_no_application(member_client, team, member):
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member)
    member_client.post(status_url(item), {"status": "done"})
    item.refresh_from_db()
    assert item.completed_at and not LessonApplication.objects.exists()


def test_the_status_toggle_comes_back_to_the_page_without_javascript(member_client, team, member):
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member)
    back = reverse("postmortems:my-action-items") + "?status=open"
    response = member_client.post(status_url(item), {"status": "wont_do", "next": back})
    assert response.status_code == 302 and response.url == f"{back}#action-item-{item.pk}"
    response = member_client.post(status_url(item), {"status": "open", "next": "https://evil.example/"})
    assert response.url.startswith(reverse("postmortems:my-action-items"))


def test_only_the_owner_and_the_team_may_change_a_status(client, team, member, outsider):
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=UserFactory(username="former"))
    client.force_login(outsider)
    assert client.post(status_url(item), {"status": "done"}).status_code == 403
    assert client.post(status_url(item), {"status": "done"}, HTTP_ACCEPT="application/json").status_code == 403
    client.force_login(item.owner)
    assert client.post(status_url(item), {"status": "done"}).status_code == 302
    client.force_login(member)
    assert client.post(status_url(item), {"status": "bogus"}, HTTP_ACCEPT="application/json").status_code == 400


def test_my_action_items_lists_mine_across_teams_overdue_first(member_client, team, other_team, member):
    today = timezone.localdate()
    later = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, description="Later",
                              due_date=today + dt.timedelta(days=20))
    done = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, description="Finished",
                             done=True, due_date=today - dt.timedelta(days=40))
    overdue = ActionItemFactory(postmortem=PostMortemFactory(team=other_team), owner=member,
                                description="Overdue elsewhere", overdue=True)
    soon = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, description="Soon",
                             due_date=today + dt.timedelta(days=2))
    ActionItemFactory(postmortem=PostMortemFactory(team=team), description="Not mine")
    response = member_client.get(reverse("postmortems:my-action-items") + "?show=all")
    assert [item.pk for item in response.context["page_obj"]] == [overdue.pk, soon.pk, later.pk, done.pk]
    assert response.context["counts"] == {"open": 3, "overdue": 1, "done": 1, "all": 4}
    page = response.content.decode()
    assert "Not mine" not in page and f'data-status-toggle="{overdue.pk}"' in page
    filtered = member_client.get(reverse("postmortems:my-action-items") + "?overdue=true")
    assert [item.pk for item in filtered.context["page_obj"]] == [overdue.pk]


def test_the_all_action_items_page_filters_and_never_fails_on_bad_input(member_client, team, other_team, member):
    mine = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, overdue=True)
    theirs = ActionItemFactory(postmortem=PostMortemFactory(team=other_team))
    url = reverse("postmortems:action-items")
    assert {i.pk for i in member_client.get(url).context["page_obj"]} == {mine.pk, theirs.pk}
    assert [i.pk for i in member_client.get(url + "?overdue=true").context["page_obj"]] == [mine.pk]
    assert [i.pk for i in member_client.get(url + "?team=data-platform").context["page_obj"]] == [theirs.pk]
    assert [i.pk for i in member_client.get(url + "?owner=mia").context["page_obj"]] == [mine.pk]
    response = member_client.get(url + "?due_after=soon&status=zzz&overdue=perhaps&team=nope&page=999")
    assert response.status_code == 200
    assert set(response.context["filter"].form.errors) == {"due_after", "status", "overdue", "team"}


def test_the_post_mortem_list_filters_searches_and_paginates(member_client, team, other_team,
                                                            django_assert_max_num_queries):
    for number in range(30):
        PostMortemFactory(team=team, title=f"Routine {number}")
    PostMortemFactory(team=other_team, title="Kafka lag", severity="sev1")
    url = reverse("postmortems:list")
    with django_assert_max_num_queries(8):
        first = member_client.get(url)
    assert first.context["page_obj"].paginator.count == 31 and len(first.context["page_obj"]) == 25
    assert len(member_client.get(url + "?page=2").context["page_obj"]) == 6
    assert [pm.title for pm in member_client.get(url + "?search=kafka").context["page_obj"]] == ["Kafka lag"]
    assert [pm.title for pm in member_client.get(url + "?severity=sev1&team=data-platform").context["page_obj"]] \
        == ["Kafka lag"]
    response = member_client.get(url + "?occurred_after=notadate&severity=sev9&repeat=maybe")
    assert response.status_code == 200 and set(response.context["filter"].form.errors) == {
        "occurred_after", "severity", "repeat"}
    empty = member_client.get(url + "?search=nothing-matches-this")
    assert "No post-mortems match these filters." in empty.content.decode()


def test_my_action_items_opens_on_the_unfinished_ones_with_tabs_for_the_rest(member_client, team, member):
    url = reverse("postmortems:my-action-items")
    working = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, status="in_progress")
    todo = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member)
    done = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, done=True)
    dropped = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, status="wont_do")
    response = member_client.get(url)
    assert {item.pk for item in response.context["page_obj"]} == {working.pk, todo.pk}
    page = response.content.decode()
    assert '<span class="badge" data-my-count="open">2</span>' in page
    assert '<span class="badge" data-my-count="done">2</span>' in page
    assert {i.pk for i in member_client.get(url + "?show=done").context["page_obj"]} == {done.pk, dropped.pk}
    assert len(member_client.get(url + "?show=all").context["page_obj"]) == 4
    # An explicit status filter wins over the default tab; a bogus tab falls back to open ones.
    assert [i.pk for i in member_client.get(url + "?status=done").context["page_obj"]] == [done.pk]
    assert len(member_client.get(url + "?show=zzz").context["page_obj"]) == 2
    # The filter form carries the tab, so filtering on the "done" tab stays on it.
    on_done = member_client.get(url + "?show=done&team=recsys")
    assert {i.pk for i in on_done.context["page_obj"]} == {done.pk, dropped.pk}
    assert '<option value="done" selected>' in on_done.content.decode()


def test_nothing_open_says_so_and_offers_the_rest(member_client, team, member):
    ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, done=True)
    page = member_client.get(reverse("postmortems:my-action-items")).content.decode()
    assert "Nothing open is assigned to you." in page and "?show=all" in page


def test_a_status_change_answers_the_previous_status_and_fresh_counts_and_undo_restores_it(
        member_client, team, member, lesson):
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member, status="in_progress",
                             lesson=lesson)
    ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=member)
    body = member_client.post(status_url(item), {"status": "done"}, HTTP_ACCEPT="application/json").json()
    assert (body["status"], body["previous_status"], body["previous_status_display"]) == (
        "done", "in_progress", "In progress")
    assert body["my_counts"] == {"open": 1, "overdue": 0, "done": 1, "all": 2}
    assert LessonApplication.objects.count() == 1
    # Undo posts the previous status back to the same endpoint: everything is as before.
    undone = member_client.post(status_url(item), {"status": body["previous_status"]},
                                HTTP_ACCEPT="application/json").json()
    assert undone["status"] == "in_progress" and undone["my_counts"]["open"] == 2
    item.refresh_from_db()
    assert item.completed_at is None and not LessonApplication.objects.exists()


def test_every_status_form_needs_an_explicit_save(member_client, team, member):
    postmortem = PostMortemFactory(team=team)
    item = ActionItemFactory(postmortem=postmortem, owner=member)
    for url in (reverse("postmortems:my-action-items"), reverse("postmortems:action-items"),
                postmortem.get_absolute_url()):
        page = member_client.get(url).content.decode()
        assert f'data-status-toggle="{item.pk}"' in page, url
        assert "data-status-submit>Save</button>" in page, url


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_arrow_keys_on_a_status_select_save_nothing_until_save_and_undo_restores(page):
    from postmortems.models import ActionItem
    from tests.conftest import sign_in
    from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory

    owner = UserFactory(username="arrow-owner")
    team = TeamFactory(name="Recommendations", slug="recsys")
    MembershipFactory(user=owner, team=team)
    item = ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=owner, description="Add a canary")
    ActionItemFactory(postmortem=PostMortemFactory(team=team), owner=owner, description="Write the runbook")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST"
            and "/status/" in request.url else None)
    sign_in(page, "arrow-owner", DEFAULT_PASSWORD)
    page.goto(reverse("postmortems:my-action-items"))
    select = page.locator(f"#item-status-{item.pk}")
    select.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert select.input_value() == "done"
    page.get_by_text("Not saved yet: press Save.").wait_for()
    assert page.locator(f'[data-item-status="{item.pk}"]').inner_text() == "Open"
    with page.expect_response(lambda response: "/status/" in response.url):
        page.locator(f'form[data-status-toggle="{item.pk}"] [data-status-submit]').click()
    assert len(posts) == 1, "only Save posts: the arrow keys sent nothing"
    page.locator(f'[data-item-status="{item.pk}"]', has_text="Done").wait_for()
    assert page.locator('[data-my-count="open"]').inner_text() == "1"
    assert page.locator('[data-my-count="done"]').inner_text() == "1"
    assert ActionItem.objects.get(pk=item.pk).status == "done"
    page.locator(f'form[data-status-toggle="{item.pk}"] [data-status-undo]').click()
    page.locator(f'[data-item-status="{item.pk}"]', has_text="Open").wait_for()
    assert page.locator('[data-my-count="open"]').inner_text() == "2"
    assert select.input_value() == "open"
    assert ActionItem.objects.get(pk=item.pk).status == "open" and len(posts) == 2
