"""Every page but sign-in requires a signed-in user; memberships carry roles; tokens are hashed."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from learninghub.kernel.models import ApiToken, Membership, hash_token_key
from learninghub.kernel.policy import can_lead, can_read, can_write
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url_name", ["home", "team-list", "profile"])
def test_pages_redirect_anonymous_users_to_sign_in(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_sign_in_page_is_public(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in" in response.content


def test_sign_in_with_the_form_lands_on_home(client):
    UserFactory(username="sam")
    response = client.post(reverse("login"), {"username": "sam", "password": "correct-horse-battery"},
                           follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert response.context["user"].username == "sam"


def test_wrong_password_re_renders_with_an_error_and_keeps_the_username(client):
    UserFactory(username="sam")
    response = client.post(reverse("login"), {"username": "sam", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert b'value="sam"' in response.content


def test_team_list_shows_member_counts(member_client, team, lead):
    TeamFactory(name="Empty Team", slug="empty")
    response = member_client.get(reverse("team-list"))
    teams = {t.slug: t.member_count for t in response.context["teams"]}
    assert teams == {"recsys": 2, "empty": 0}


def test_roles_decide_edit_and_lead_rights(team, other_team, member, lead, outsider):
    assert can_write(member, team) and not can_lead(member, team)
    assert can_write(lead, team) and can_lead(lead, team)
    assert not can_write(outsider, team) and not can_lead(outsider, team)
    assert Membership.objects.get(user=lead, team=team).is_lead


@pytest.mark.parametrize("flags", [{"is_staff": True}, {"is_superuser": True}])
def test_one_staff_rule_staff_and_superusers_read_write_and_lead_every_team(team, flags):
    from tests.factories.postmortems import PostMortemFactory

    staff = UserFactory(username="root", **flags)
    secret = PostMortemFactory(team=team, restricted=True)
    assert can_write(staff, team) and can_lead(staff, team) and can_read(staff, secret)


def test_the_system_actor_passes_every_check_and_is_nobody(team):
    from learninghub.kernel.policy import SYSTEM, require_lead, require_write, user_or_none

    require_write(SYSTEM, team)
    require_lead(SYSTEM, team)
    assert user_or_none(SYSTEM) is None


def test_a_user_has_one_membership_per_team(team, member):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        MembershipFactory(team=team, user=member)


def test_create_api_token_prints_only_the_key_and_stores_a_hash(capsys):
    UserFactory(username="ci-bot")
    call_command("create_api_token", "ci-bot")
    key = capsys.readouterr().out.strip()
    assert len(key) == 40 and "\n" not in key
    token = ApiToken.objects.get(user__username="ci-bot")
    assert token.key_hash == hash_token_key(key)
    assert key not in {token.key_hash, token.name}


def test_profile_creates_and_revokes_tokens(member_client, member):
    response = member_client.post(reverse("profile"), {"name": "training cluster"}, follow=True)
    key = response.context["new_key"]
    token = ApiToken.objects.get(user=member)
    assert token.key_hash == hash_token_key(key)
    member_client.post(reverse("revoke-token", args=[token.pk]))
    token.refresh_from_db()
    assert not token.is_active


def test_token_authenticates_the_api_until_revoked(api_client, member, team):
    token, key = ApiToken.issue(user=member)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/teams/").status_code == 200
    token.revoke()
    assert api_client.get("/api/v1/teams/").status_code == 401


def test_anonymous_api_requests_are_refused(api_client, team):
    assert api_client.get("/api/v1/teams/").status_code in {401, 403}


def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "alice" in out and "learn-from-failure" in out
    from learninghub.kernel.models import Team

    assert Team.objects.count() == 3
    assert Membership.objects.filter(team__slug="recsys").count() == 3


def test_api_docs_and_schema_are_served_locally(member_client):
    schema = member_client.get("/api/schema/")
    assert schema.status_code == 200
    docs = member_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    assert b"drf_spectacular_sidecar" in docs.content


def test_plotly_js_is_served_by_the_app_with_long_caching(client):
    from learninghub.kernel.charts import plotly_js

    content, version = plotly_js()
    response = client.get(reverse("plotly-js", args=[version]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "immutable" in response["Cache-Control"]
    assert response.content == content and len(content) > 1_000_000
    assert client.get(reverse("plotly-js", args=["stale"])).status_code == 302
