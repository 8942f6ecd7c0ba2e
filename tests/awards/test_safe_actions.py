"""Award actions that can't go wrong by accident: advancing or closing a cycle asks for
confirmation first; the page shows turnout and says a deadline passed only when it has (and what
a lead can do without a beat); closing early keeps the month's cycle, closed; suggestions fall
back to the last complete month; only team members are nominees (forms, API, services); the hall
of fame shows each winner's citation and evidence."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from awards import services
from awards.models import AwardCycle, CycleState
from learninghub.kernel.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory, issue_token
from tests.factories.awards import AwardCycleFactory, AwardFactory, NominationFactory, VoteFactory
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

NOVEMBER = dt.date(2026, 11, 1)  # the clock fixture stops on 18 November 2026
CURRENT = reverse("awards:current")
ADVANCE = reverse("awards:advance", args=["2026-11"])


@pytest.fixture
def november(clock, categories):
    return AwardCycleFactory(month=NOVEMBER, state=CycleState.NOMINATING)


@pytest.fixture
def admin_user(db):
    """A staff account in no team, like the demo's ``admin``."""
    return UserFactory(username="admin", first_name="", last_name="", is_staff=True, is_superuser=True)


def test_advancing_shows_a_confirmation_page_and_only_its_post_moves_the_cycle(lead_client, november, people):
    page = lead_client.get(CURRENT).content.decode()
    assert f'<form method="get" action="{ADVANCE}"' in page, "the cycle page's button only asks"
    confirm = lead_client.get(ADVANCE, {"from_state": "nominating"})
    assert confirm.status_code == 200
    assert "Close nominations for November 2026?" in confirm.content.decode()
    assert 'name="confirm" value="yes"' in confirm.content.decode()
    # A POST that did not come through the confirmation (an old form, a double click) asks again.
    again = lead_client.post(ADVANCE, {"from_state": "nominating"})
    assert again.status_code == 200 and "Close nominations for November 2026?" in again.content.decode()
    november.refresh_from_db()
    assert november.state == CycleState.NOMINATING and not november.transitions.exists()
    done = lead_client.post(ADVANCE, {"from_state": "nominating", "confirm": "yes"}, follow=True)
    assert "The November 2026 cycle is now voting." in done.content.decode()
    november.refresh_from_db()
    assert november.state == CycleState.VOTING
    # Confirming the same step twice moves nothing more.
    stale = lead_client.post(ADVANCE, {"from_state": "nominating", "confirm": "yes"}, follow=True)
    assert "already voting; nothing was changed" in stale.content.decode()
    november.refresh_from_db()
    assert november.state == CycleState.VOTING and november.transitions.count() == 1


def test_the_closing_confirmation_names_the_turnout_and_that_it_cannot_be_undone(lead_client, november, people,
                                                                                fast_fail):
    november.state = CycleState.VOTING
    november.save(update_fields=["state"])
    NominationFactory(cycle=november, category=fast_fail, nominee=people["ben"], nominator=people["ann"])
    VoteFactory(cycle=november, category=fast_fail, voter=people["ann"], nominee=people["ben"])
    content = lead_client.get(ADVANCE, {"from_state": "voting"}).content.decode()
    assert "Close voting and announce the November 2026 winners?" in content
    assert "This cannot be undone." in content
    assert "Fast Fail Award: 1 nomination" in content


def test_members_cannot_reach_the_confirmation(member_client, november):
    assert member_client.get(ADVANCE).status_code == 403


def test_turnout_counts_distinct_voters_among_team_members(member_client, november, categories, admin_user):
    team = TeamFactory(name="Turnout team", slug="turnout")
    crew = [MembershipFactory(team=team, user=UserFactory(username=f"crew{index}")).user for index in range(7)]
    # 7 here + the ``member`` fixture's mia = 8 team members; admin (staff, no team) is not one.
    november.state = CycleState.VOTING
    november.save(update_fields=["state"])
    for slug in ("fast-fail", "learning-champion"):
        NominationFactory(cycle=november, category=categories[slug], nominee=crew[0], nominator=crew[1])
    for voter in crew[1:4]:
        VoteFactory(cycle=november, category=categories["fast-fail"], voter=voter, nominee=crew[0])
    VoteFactory(cycle=november, category=categories["learning-champion"], voter=crew[1], nominee=crew[0])
    VoteFactory(cycle=november, category=categories["learning-champion"], voter=crew[4], nominee=crew[0])
    VoteFactory(cycle=november, category=categories["fast-fail"], voter=admin_user, nominee=crew[0])
    content = member_client.get(CURRENT).content.decode()
    assert "<strong>Turnout:</strong> 4 of 8 team members voted so far." in content
    assert Membership.objects.values("user").distinct().count() == 8


def test_the_deadline_text_appears_only_once_the_deadline_passed(client, member, lead, november, clock):
    member_client = client
    member_client.force_login(member)
    assert november.nominations_close_on == dt.date(2026, 11, 21)
    assert 'id="cycle-overdue"' not in member_client.get(CURRENT).content.decode()
    clock.move_to(dt.datetime(2026, 11, 21, 23, 0, tzinfo=dt.UTC))
    assert 'id="cycle-overdue"' not in member_client.get(CURRENT).content.decode(), "the 21st is still open"
    clock.move_to(dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC))
    content = member_client.get(CURRENT).content.decode()
    assert "The nomination deadline has passed." in content
    assert "hourly schedule moves the cycle on shortly" not in content
    assert "<code>make run</code> starts none" in content
    assert "A team lead or a staff member can move it on by hand." in content
    client.force_login(lead)
    assert "You can move it on now with the button below." in client.get(CURRENT).content.decode()


def test_a_cycle_moved_on_early_by_hand_is_not_behind_its_deadline(lead_client, november, lead):
    services.cycle_advance(cycle=november, by=lead)  # voting on the 18th, before the 21st
    content = lead_client.get(CURRENT).content.decode()
    assert 'id="cycle-state">Voting<' in content
    assert "deadline has passed" not in content


def test_closing_early_keeps_the_month_with_its_closed_cycle(lead_client, november, people, fast_fail, clock):
    lead_client.post(ADVANCE, {"from_state": "nominating", "confirm": "yes"})
    lead_client.post(ADVANCE, {"from_state": "voting", "confirm": "yes"})
    november.refresh_from_db()
    assert november.state == CycleState.CLOSED and november.closed_early
    content = lead_client.get(CURRENT).content.decode()
    assert "Awards · November 2026" in content and 'id="cycle-state">Closed<' in content
    assert "before its voting deadline" in content
    assert "the December cycle opens on 1 December 2026" in content
    # The schedule neither reopens the month nor opens a second cycle for it.
    assert services.cycles_advance_on_schedule() == []
    assert list(AwardCycle.objects.values_list("month", "state")) == [(NOVEMBER, CycleState.CLOSED)]
    response = lead_client.get("/api/v1/awards/cycles/2026-11/")
    assert response.status_code == 200 and response.json()["state"] == "closed"
    clock.move_to(dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC))
    assert services.cycles_advance_on_schedule() == ["2026-12: opened"]
    assert AwardCycle.objects.count() == 2


def _documented_failure(author, ended_at):
    experiment = ExperimentFactory(failed=True, created_by=author, team=author.memberships.first().team,
                                   started_at=ended_at - dt.timedelta(hours=3), ended_at=ended_at,
                                   title=f"Doomed idea of {author.username}")
    LessonFactory(experiment=experiment, created_by=author)
    return experiment


def test_suggestions_fall_back_to_the_last_complete_month_when_this_one_has_none(member_client, november,
                                                                                 people):
    october = _documented_failure(people["ben"], dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC))
    content = member_client.get(CURRENT).content.decode()
    assert "Suggested from October's records (November has none yet)" in content
    assert october.title in content
    _documented_failure(people["cat"], dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC))
    content = member_client.get(CURRENT).content.decode()
    assert "Suggested from November's records</summary>" in content
    assert october.title not in content.split("Suggested from November")[1].split("</details>")[0]


def test_staff_accounts_without_a_team_are_not_nominees_anywhere(client, member, november, fast_fail,
                                                                 admin_user, people):
    client.force_login(member)
    form = client.get(CURRENT).context["boards"][0].nomination_form
    offered = {person.username for person in form.fields["nominee"].queryset}
    assert "admin" not in offered and {"ann", "ben"} <= offered
    page = client.post(reverse("awards:nominate", args=["2026-11", "fast-fail"]),
                       {"nominate-fast-fail-nominee": admin_user.pk, "nominate-fast-fail-reason": "Helps"})
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(member)[1]}")
    response = api.post("/api/v1/awards/nominations/", {"cycle": "2026-11", "category": "fast-fail",
                                                         "nominee": "admin", "reason": "Helps"}, format="json")
    assert response.status_code == 400
    assert response.json()["nominee"] == ["admin is not in any team: only team members can be nominated."]
    with pytest.raises(ValidationError):
        services.nomination_create(cycle=november, category=fast_fail, nominator=member, nominee=admin_user,
                                   reason="Helps")
    assert not november.nominations.exists()
    assert api.post("/api/v1/awards/nominations/", {"cycle": "2026-11", "category": "fast-fail",
                                                     "nominee": "ben", "reason": "Helps"},
                    format="json").status_code == 201


def test_staff_accounts_without_a_team_are_not_suggested(member_client, november, people, admin_user):
    failure = ExperimentFactory(failed=True, created_by=admin_user, started_at=dt.datetime(2026, 11, 9, tzinfo=dt.UTC),
                                ended_at=dt.datetime(2026, 11, 9, 1, tzinfo=dt.UTC), title="Admin's quick fail")
    LessonFactory(experiment=failure, created_by=admin_user)
    _documented_failure(people["ben"], dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC))
    boards = member_client.get(CURRENT).context["boards"]
    suggested = {s.user.username for board in boards for s in board.suggestions}
    assert suggested == {"ben"}


def test_the_hall_of_fame_shows_each_winners_citation_and_evidence(client, member, team, categories, people):
    january = AwardCycleFactory(month=dt.date(2026, 1, 1), state=CycleState.CLOSED)
    evidence = ExperimentFactory(title="Killed the rewrite on day two")
    secret = PostMortemFactory(team=team, restricted=True, title="Secret outage")
    NominationFactory(cycle=january, category=categories["fast-fail"], nominee=people["ben"],
                      nominator=people["ann"], reason="Stopped a doomed rewrite early.", experiment=evidence)
    NominationFactory(cycle=january, category=categories["learning-champion"], nominee=people["cat"],
                      nominator=people["dan"], reason="Wrote the outage lessons.", postmortem=secret)
    AwardFactory(cycle=january, category=categories["fast-fail"], winner=people["ben"], votes=3)
    AwardFactory(cycle=january, category=categories["learning-champion"], winner=people["cat"], votes=1)
    client.force_login(people["ann"])  # not in the secret post-mortem's team
    content = client.get(reverse("awards:hall-of-fame")).content.decode()
    assert "Winners and why" in content
    assert "Stopped a doomed rewrite early." in content and "Killed the rewrite on day two" in content
    assert reverse("experiments:detail", args=[evidence.pk]) in content
    assert "Wrote the outage lessons." in content and "Evidence: a restricted post-mortem" in content
    assert "Secret outage" not in content
    client.force_login(member)  # in the team: sees it
    assert "Secret outage" in client.get(reverse("awards:hall-of-fame")).content.decode()
    filtered = client.get(reverse("awards:hall-of-fame"), {"category": "fast-fail"}).content.decode()
    assert "Stopped a doomed rewrite early." in filtered and "Wrote the outage lessons." not in filtered


def test_the_hall_of_fame_query_count_does_not_grow_with_winners(client, categories, people,
                                                                 django_assert_max_num_queries):
    for month in range(1, 9):
        cycle = AwardCycleFactory(month=dt.date(2026, month, 1), state=CycleState.CLOSED)
        NominationFactory(cycle=cycle, category=categories["fast-fail"], nominee=people["ben"],
                          nominator=people["ann"], postmortem=PostMortemFactory())
        AwardFactory(cycle=cycle, category=categories["fast-fail"], winner=people["ben"], votes=2)
    client.force_login(people["ann"])
    with django_assert_max_num_queries(20):
        assert client.get(reverse("awards:hall-of-fame")).status_code == 200
