"""The award pages: current cycle (nominate, vote, secret ballot, advance), all cycles, hall of fame,
a person's awards. Forms re-render with errors and what was typed; bad input never 500s."""

import datetime as dt

import pytest
from django.urls import reverse

from awards.models import AwardCategory, AwardCycle, CycleState, Nomination, Vote
from tests.factories import TeamFactory, UserFactory
from tests.factories.awards import AwardCycleFactory, AwardFactory, NominationFactory, VoteFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

CURRENT = reverse("awards:current")


@pytest.fixture
def current_cycle(this_month, categories):
    return AwardCycleFactory(month=this_month, state=CycleState.NOMINATING)


@pytest.fixture
def ann_client(client, people):
    client.force_login(people["ann"])
    return client


def label(cycle):
    return cycle.month.strftime("%Y-%m")


def test_award_pages_need_sign_in(client, current_cycle):
    for url in (CURRENT, reverse("awards:cycles"), reverse("awards:hall-of-fame")):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_without_a_cycle_the_page_says_so_and_a_lead_can_open_one(client, member, lead, categories, this_month):
    client.force_login(member)
    page = client.get(CURRENT)
    assert b"No award cycle is running." in page.content
    assert reverse("awards:open-current").encode() not in page.content
    assert client.post(reverse("awards:open-current")).status_code == 403

    client.force_login(lead)
    assert reverse("awards:open-current").encode() in client.get(CURRENT).content
    response = client.post(reverse("awards:open-current"), follow=True)
    assert response.redirect_chain[-1][0] == CURRENT
    cycle = AwardCycle.objects.get()
    assert (cycle.month, cycle.state) == (this_month, CycleState.NOMINATING)
    assert cycle.transitions.get().by == lead


def test_the_current_cycle_shows_state_deadlines_and_a_nomination_form_per_active_category(
        member_client, current_cycle):
    AwardCategory.objects.filter(slug="pivot-master").update(is_active=False)
    response = member_client.get(CURRENT)
    content = response.content.decode()
    assert 'id="cycle-state">Nominating<' in content
    assert current_cycle.nominations_close_on.strftime("%-d %b") in content
    assert "Nominate someone for Fast Fail Award" in content
    assert "Nominate someone for Learning Champion" in content
    assert "Pivot Master" not in content, "a retired category without nominations is not shown"


def test_nominate_through_the_page(ann_client, current_cycle, people):
    experiment = ExperimentFactory(failed=True)
    response = ann_client.post(reverse("awards:nominate", args=[label(current_cycle), "fast-fail"]), {
        "nominate-fast-fail-nominee": people["ben"].pk, "nominate-fast-fail-reason": "Killed it in a day.",
        "nominate-fast-fail-experiment": experiment.pk}, follow=True)
    assert response.redirect_chain[-1][0] == f"{CURRENT}#fast-fail"
    assert "You nominated Ben Tester for Fast Fail Award." in response.content.decode()
    nomination = Nomination.objects.get()
    assert (nomination.nominator, nomination.nominee, nomination.experiment) == (people["ann"], people["ben"],
                                                                                 experiment)
    assert "Killed it in a day." in response.content.decode()


def test_a_nomination_without_a_reason_re_renders_with_the_error_and_the_choice_kept(
        ann_client, current_cycle, people):
    response = ann_client.post(reverse("awards:nominate", args=[label(current_cycle), "fast-fail"]), {
        "nominate-fast-fail-nominee": people["ben"].pk, "nominate-fast-fail-reason": "   "})
    assert response.status_code == 200
    content = response.content.decode()
    assert "A nomination needs a reason: say what they did." in content
    assert f'<option value="{people["ben"].pk}" selected>' in content
    assert not Nomination.objects.exists()


def test_a_duplicate_nomination_shows_the_rule_and_keeps_the_reason(ann_client, current_cycle, people, fast_fail):
    NominationFactory(cycle=current_cycle, category=fast_fail, nominator=people["ann"], nominee=people["ben"])
    response = ann_client.post(reverse("awards:nominate", args=[label(current_cycle), "fast-fail"]), {
        "nominate-fast-fail-nominee": people["ben"].pk, "nominate-fast-fail-reason": "Second try"})
    content = response.content.decode()
    assert "You have already nominated Ben Tester for Fast Fail Award in this cycle" in content
    assert "Second try</textarea>" in content
    assert Nomination.objects.count() == 1


def test_you_are_not_offered_as_your_own_nominee(ann_client, current_cycle, people):
    form = ann_client.get(CURRENT).context["boards"][0].nomination_form
    assert people["ann"] not in form.fields["nominee"].queryset
    response = ann_client.post(reverse("awards:nominate", args=[label(current_cycle), "fast-fail"]), {
        "nominate-fast-fail-nominee": people["ann"].pk, "nominate-fast-fail-reason": "Me!"})
    assert "Select a valid choice" in response.content.decode()
    assert not Nomination.objects.exists()


def test_restricted_postmortems_of_other_teams_are_not_offered_as_evidence(ann_client, current_cycle):
    visible = PostMortemFactory(title="Open incident")
    PostMortemFactory(title="Secret incident", team=TeamFactory(slug="secret"), restricted=True)
    content = ann_client.get(CURRENT).content.decode()
    assert "Open incident" in content
    assert "Secret incident" not in content
    assert visible.pk


def test_bad_input_is_an_error_not_a_500(ann_client, current_cycle, people):
    url = reverse("awards:nominate", args=[label(current_cycle), "fast-fail"])
    response = ann_client.post(url, {"nominate-fast-fail-nominee": "abc", "nominate-fast-fail-reason": "x",
                                     "nominate-fast-fail-experiment": "99999"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert ann_client.post(reverse("awards:nominate", args=[label(current_cycle), "no-such"])).status_code == 404
    assert ann_client.get(reverse("awards:nominate", args=[label(current_cycle), "fast-fail"])).status_code == 405
    assert ann_client.get("/awards/cycles/2026-13/").status_code == 404
    assert ann_client.get(CURRENT, {"category": "fast-fail", "nominee": "nobody", "experiment": "x"}).status_code \
        == 200


def test_nominating_after_nominations_closed_explains_why(ann_client, this_month, categories, people):
    cycle = AwardCycleFactory(month=this_month, state=CycleState.VOTING)
    response = ann_client.post(reverse("awards:nominate", args=[label(cycle), "fast-fail"]), {
        "nominate-fast-fail-nominee": people["ben"].pk, "nominate-fast-fail-reason": "late"}, follow=True)
    assert "Nominations are only accepted while a cycle is nominating" in response.content.decode()
    assert not Nomination.objects.exists()


@pytest.fixture
def voting_cycle(this_month, categories, people):
    cycle = AwardCycleFactory(month=this_month, state=CycleState.VOTING)
    for nominee in ("ben", "cat"):
        NominationFactory(cycle=cycle, category=categories["fast-fail"], nominee=people[nominee],
                          nominator=people["dan"], reason=f"{nominee} failed fast")
    return cycle


def test_vote_and_change_the_vote_through_the_page(ann_client, voting_cycle, people):
    url = reverse("awards:vote", args=[label(voting_cycle), "fast-fail"])
    response = ann_client.post(url, {"vote-fast-fail-nominee": people["ben"].pk}, follow=True)
    assert "Your vote in Fast Fail Award: Ben Tester." in response.content.decode()
    response = ann_client.post(url, {"vote-fast-fail-nominee": people["cat"].pk}, follow=True)
    content = response.content.decode()
    assert "Your vote was changed in Fast Fail Award: Cat Tester." in content
    assert "Fast Fail Award: <strong>Cat Tester</strong>" in content, "listed under your votes"
    assert list(Vote.objects.values_list("voter__username", "nominee__username")) == [("ann", "cat")]


def test_voting_for_someone_not_nominated_re_renders_with_an_error(ann_client, voting_cycle, people):
    response = ann_client.post(reverse("awards:vote", args=[label(voting_cycle), "fast-fail"]),
                               {"vote-fast-fail-nominee": people["dan"].pk})
    assert response.status_code == 200
    assert "Vote for one of this category&#x27;s nominees." in response.content.decode()
    assert not Vote.objects.exists()


def test_nominees_cannot_vote_for_themselves_on_the_page(client, voting_cycle, people):
    client.force_login(people["ben"])
    form = client.get(CURRENT).context["boards"][0].vote_form
    assert list(form.fields["nominee"].queryset) == [people["cat"]]


def test_the_page_keeps_the_ballot_secret_until_the_cycle_closes(ann_client, voting_cycle, people, fast_fail, lead):
    for voter in ("ann", "dan"):
        VoteFactory(cycle=voting_cycle, category=fast_fail, voter=people[voter], nominee=people["ben"])
    content = ann_client.get(CURRENT).content.decode()
    assert ">Votes</th>" not in content
    assert "Winner" not in content
    entries = ann_client.get(CURRENT).context["boards"][0].nominees
    assert [entry.user.username for entry in entries] == ["ben", "cat"], "alphabetical while voting"
    assert all(entry.votes is None and not entry.is_winner for entry in entries), "no counts reach the template"

    ann_client.force_login(lead)
    ann_client.post(reverse("awards:advance", args=[label(voting_cycle)]), {"from_state": "voting", "confirm": "yes"})
    content = ann_client.get(CURRENT).content.decode()
    assert ">Votes</th>" in content
    board = ann_client.get(CURRENT).context["boards"][0]
    assert [(e.user.username, e.votes, e.is_winner) for e in board.nominees] == [("ben", 2, True),
                                                                                 ("cat", 0, False)]


def test_only_leads_and_staff_see_and_use_the_advance_button(client, member, lead, voting_cycle):
    url = reverse("awards:advance", args=[label(voting_cycle)])
    client.force_login(member)
    assert b'id="advance-cycle"' not in client.get(CURRENT).content
    assert client.post(url, {"from_state": "voting", "confirm": "yes"}).status_code == 403
    client.force_login(lead)
    assert b"Close voting and announce the winners" in client.get(CURRENT).content
    response = client.post(url, {"from_state": "voting", "confirm": "yes"}, follow=True)
    assert "is now closed" in response.content.decode()
    again = client.post(url, {"from_state": "voting", "confirm": "yes"}, follow=True)
    assert "already closed" in again.content.decode()
    voting_cycle.refresh_from_db()
    assert voting_cycle.state == CycleState.CLOSED
    assert voting_cycle.transitions.get().by == lead


def test_the_cycle_page_shows_its_history(member_client, lead, voting_cycle):
    member_client.force_login(lead)
    member_client.post(reverse("awards:advance", args=[label(voting_cycle)]),
                       {"from_state": "voting", "confirm": "yes"})
    content = member_client.get(reverse("awards:cycle", args=[label(voting_cycle)])).content.decode()
    assert "Voting → Closed" in content
    assert f"by {lead.get_full_name()}" in content


@pytest.fixture
def history(categories, people):
    """Two closed months: Ben won Fast Fail twice, Cat shared Learning Champion once with Dan."""
    jan = AwardCycleFactory(month=dt.date(2026, 1, 1), state=CycleState.CLOSED)
    feb = AwardCycleFactory(month=dt.date(2026, 2, 1), state=CycleState.CLOSED)
    for cycle in (jan, feb):
        NominationFactory(cycle=cycle, category=categories["fast-fail"], nominee=people["ben"],
                          nominator=people["ann"], reason=f"Fast in {cycle.month:%B}")
        AwardFactory(cycle=cycle, category=categories["fast-fail"], winner=people["ben"], votes=3)
    AwardFactory(cycle=feb, category=categories["learning-champion"], winner=people["cat"], votes=2)
    AwardFactory(cycle=feb, category=categories["learning-champion"], winner=people["dan"], votes=2)
    return jan, feb


def test_all_cycles_lists_winners_and_filters(ann_client, history, current_cycle):
    response = ann_client.get(reverse("awards:cycles"))
    content = response.content.decode()
    assert [cycle.label for cycle in response.context["cycles"]] == [current_cycle.label, "2026-02", "2026-01"]
    assert "Secret until the cycle closes" in content
    assert content.count("Fast Fail Award: ") == 2
    closed = ann_client.get(reverse("awards:cycles"), {"state": "closed", "year": "2026"})
    assert [cycle.label for cycle in closed.context["cycles"]] == ["2026-02", "2026-01"]
    bad = ann_client.get(reverse("awards:cycles"), {"state": "bogus", "year": "soon"})
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode()
    nothing = ann_client.get(reverse("awards:cycles"), {"year": "1999"})
    assert "No cycle matches these filters." in nothing.content.decode()


def test_the_hall_of_fame_counts_wins_per_person_and_category(ann_client, history, people):
    response = ann_client.get(reverse("awards:hall-of-fame"))
    rows = [(row.user.username, row.total) for row in response.context["rows"]]
    assert rows == [("ben", 2), ("cat", 1), ("dan", 1)]
    content = response.content.decode()
    assert f'href="{reverse("awards:person", args=["ben"])}?category=fast-fail">2</a>' in content
    categories = {c.slug: [(p.username, n) for p, n in c.leaders] for c in response.context["categories"]}
    assert categories["fast-fail"] == [("ben", 2)]
    assert sorted(categories["learning-champion"]) == [("cat", 1), ("dan", 1)]
    assert categories["pivot-master"] == []


def test_the_hall_of_fame_filters(ann_client, history):
    by_category = ann_client.get(reverse("awards:hall-of-fame"), {"category": "learning-champion"})
    assert [row.user.username for row in by_category.context["rows"]] == ["cat", "dan"]
    by_name = ann_client.get(reverse("awards:hall-of-fame"), {"search": "Ben"})
    assert [row.user.username for row in by_name.context["rows"]] == ["ben"]
    bad = ann_client.get(reverse("awards:hall-of-fame"), {"category": "nope", "page": "x"})
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode()
    empty = ann_client.get(reverse("awards:hall-of-fame"), {"search": "zzz"})
    assert "Nobody matches these filters." in empty.content.decode()


def test_a_persons_page_lists_awards_and_nominations(ann_client, history, people):
    response = ann_client.get(reverse("awards:person", args=["ben"]))
    content = response.content.decode()
    assert [award.cycle.label for award in response.context["awards"]] == ["2026-02", "2026-01"]
    assert "Fast in January" in content and "Fast in February" in content
    assert ann_client.get(reverse("awards:person", args=["nobody"])).status_code == 404
    filtered = ann_client.get(reverse("awards:person", args=["ben"]), {"category": "learning-champion"})
    assert list(filtered.context["awards"]) == []


def test_restricted_evidence_is_hidden_from_people_outside_the_team(client, member, team, current_cycle, people,
                                                                    fast_fail):
    restricted = PostMortemFactory(title="Secret outage", team=team, restricted=True)
    NominationFactory(cycle=current_cycle, category=fast_fail, nominator=member, nominee=people["ben"],
                      postmortem=restricted)
    client.force_login(member)
    assert "Secret outage" in client.get(CURRENT).content.decode()
    client.force_login(people["ann"])
    content = client.get(CURRENT).content.decode()
    assert "Secret outage" not in content
    assert "Evidence: a restricted post-mortem" in content
    assert "Secret outage" not in client.get(reverse("awards:person", args=["ben"])).content.decode()


def test_the_current_page_query_count_is_bounded(ann_client, voting_cycle, people, fast_fail,
                                                 django_assert_max_num_queries):
    for index in range(8):
        nominee = UserFactory(username=f"extra{index}")
        NominationFactory(cycle=voting_cycle, category=fast_fail, nominee=nominee, nominator=people["dan"],
                          postmortem=PostMortemFactory())
    with django_assert_max_num_queries(30):
        assert ann_client.get(CURRENT).status_code == 200
