"""End to end in Chromium: a lead nominates a colleague, moves the cycle to voting (after a
confirmation step), and another person votes for the nominee."""

import pytest

from awards.models import CycleState, Nomination, Vote
from learninghub.kernel.models import Membership
from tests.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.factories.awards import AwardCycleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_nominate_then_vote_as_two_people(page, categories, this_month):
    team = TeamFactory(slug="recsys", name="Recommendations")
    ann = MembershipFactory(team=team, role=Membership.Role.LEAD,
                            user=UserFactory(username="ann", first_name="Ann", last_name="Lead")).user
    ben = MembershipFactory(team=team, user=UserFactory(username="ben", first_name="Ben", last_name="Nominee")).user
    UserFactory(username="cat", first_name="Cat", last_name="Voter")
    cycle = AwardCycleFactory(month=this_month, state=CycleState.NOMINATING)

    sign_in(page, "ann", DEFAULT_PASSWORD)
    page.goto("/awards/")
    assert page.locator("#cycle-state").inner_text() == "Nominating"
    form = page.locator("#nominate-fast-fail")
    form.locator("select[name='nominate-fast-fail-nominee']").select_option(label="Ben Nominee (ben)")
    form.locator("textarea[name='nominate-fast-fail-reason']").fill("Stopped the doomed rewrite on day two.")
    form.get_by_role("button", name="Nominate").click()
    page.get_by_text("You nominated Ben Nominee for Fast Fail Award.").wait_for()  # after the form's redirect
    assert page.locator("#fast-fail").get_by_text("Stopped the doomed rewrite on day two.").is_visible()
    assert Nomination.objects.get().nominator == ann

    # Advancing asks first: the button opens a confirmation page and nothing has moved yet.
    page.locator("#advance-cycle").click()
    page.get_by_role("heading", name="Close nominations for").wait_for()
    cycle.refresh_from_db()
    assert cycle.state == CycleState.NOMINATING
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_selector("#cycle-state:has-text('Nominating')")
    page.locator("#advance-cycle").click()
    page.locator("#confirm-advance").click()
    page.wait_for_selector("#cycle-state:has-text('Voting')")
    cycle.refresh_from_db()
    assert cycle.state == CycleState.VOTING

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "cat", DEFAULT_PASSWORD)
    page.goto("/awards/")
    vote_form = page.locator("#vote-fast-fail")
    vote_form.get_by_label("Ben Nominee").check()
    vote_form.get_by_role("button", name="Vote").click()
    page.get_by_text("Your vote in Fast Fail Award: Ben Nominee.").wait_for()  # after the form's redirect
    assert page.locator("section[aria-label='Your votes']").get_by_text("Ben Nominee").is_visible()
    assert page.locator("th", has_text="Votes").count() == 0, "secret ballot: no counts while voting"
    vote = Vote.objects.get()
    assert (vote.voter.username, vote.nominee) == ("cat", ben)
