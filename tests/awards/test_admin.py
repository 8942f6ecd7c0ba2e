"""Admin pages for every award model; categories are added, renamed and retired there."""

import datetime as dt

import pytest
from django.urls import reverse

from awards.models import Award, AwardCategory, AwardCycle, CycleState, CycleTransition, Nomination, Vote
from tests.factories import UserFactory
from tests.factories.awards import AwardFactory, NominationFactory, VoteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", [AwardCategory, AwardCycle, CycleTransition, Nomination, Vote, Award])
def test_every_award_model_has_an_admin_list(admin_client, model, nominating, fast_fail, people):
    NominationFactory(cycle=nominating, category=fast_fail, nominee=people["ben"], nominator=people["ann"])
    VoteFactory(cycle=nominating, category=fast_fail, nominee=people["ben"], voter=people["cat"])
    AwardFactory(cycle=nominating, category=fast_fail, winner=people["ben"])
    changelist = reverse(f"admin:awards_{model._meta.model_name}_changelist")
    assert admin_client.get(changelist).status_code == 200
    obj = model.objects.first()
    if obj is not None:
        change = reverse(f"admin:awards_{model._meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == 200


def test_add_rename_and_retire_a_category_keeping_its_history(admin_client, nominating, people):
    response = admin_client.post(reverse("admin:awards_awardcategory_add"), {
        "name": "Best Post-Mortem", "slug": "best-postmortem", "description": "Clearest write-up.",
        "is_active": "on", "position": "40"})
    assert response.status_code == 302
    category = AwardCategory.objects.get(slug="best-postmortem")
    NominationFactory(cycle=nominating, category=category, nominee=people["ben"], nominator=people["ann"])

    admin_client.post(reverse("admin:awards_awardcategory_change", args=[category.pk]), {
        "name": "Best Write-up", "description": "Clearest write-up.", "is_active": "on", "position": "40"})
    admin_client.post(reverse("admin:awards_awardcategory_changelist"), {
        "action": "retire", "_selected_action": [category.pk]})
    category.refresh_from_db()
    assert (category.name, category.slug, category.is_active) == ("Best Write-up", "best-postmortem", False)
    assert category.nominations.count() == 1, "history kept"


def test_adding_a_cycle_in_the_admin_sets_deadlines_and_records_who(admin_client):
    response = admin_client.post(reverse("admin:awards_awardcycle_add"), {"month": "2026-05-17"})
    assert response.status_code == 302
    cycle = AwardCycle.objects.get()
    assert (cycle.month, cycle.nominations_close_on, cycle.state) == (
        dt.date(2026, 5, 1), dt.date(2026, 5, 21), CycleState.NOMINATING)
    assert cycle.transitions.get().by.username == "root"


def test_the_admin_advances_cycles_through_the_rules(admin_client, nominating):
    admin_client.post(reverse("admin:awards_awardcycle_changelist"), {
        "action": "advance", "_selected_action": [nominating.pk]})
    nominating.refresh_from_db()
    assert nominating.state == CycleState.VOTING
    assert nominating.transitions.get().by.username == "root"
