"""Brute force: a (username, IP) pair is locked after exactly 10 failed sign-ins, on the sign-in
form and the admin, for 15 minutes after its last attempt (then released), with a 429 page that says so; other users
and addresses are not locked; lockouts are logged. Failed API tokens are throttled per IP."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory, issue_token

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def person(db):
    return UserFactory(username="petra")


def attempt(client, password, *, username="petra", url=LOGIN, ip="10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_lockout_after_exactly_ten_failures_and_release_after_the_cool_off(client, person, clock, caplog):
    for _ in range(9):
        assert attempt(client, "wrong").status_code == 200
    with caplog.at_level(logging.WARNING):
        tenth = attempt(client, "wrong")
    assert tenth.status_code == 429
    assert "Too many failed sign-ins" in tenth.content.decode() and "15 minutes" in tenth.content.decode()
    assert tenth["Retry-After"] == "900"
    assert "locked out" in caplog.text.lower()
    # Even the right password is refused while locked.
    assert attempt(client, DEFAULT_PASSWORD).status_code == 429
    clock.shift(dt.timedelta(minutes=14))
    assert attempt(client, DEFAULT_PASSWORD).status_code == 429
    # The cool-off counts from the last attempt: an attacker who keeps trying stays locked out.
    clock.shift(dt.timedelta(minutes=14))
    assert attempt(client, DEFAULT_PASSWORD).status_code == 429
    clock.shift(dt.timedelta(minutes=15, seconds=1))
    signed_in = attempt(client, DEFAULT_PASSWORD)
    assert signed_in.status_code == 302 and client.session.get("_auth_user_id") == str(person.pk)


def test_a_lockout_is_per_user_and_address(client, person, clock):
    UserFactory(username="otto")
    for _ in range(10):
        attempt(client, "wrong")
    assert attempt(client, DEFAULT_PASSWORD).status_code == 429
    assert attempt(client, DEFAULT_PASSWORD, ip="10.0.0.2").status_code == 302
    client.logout()
    assert attempt(client, DEFAULT_PASSWORD, username="otto").status_code == 302


def test_a_success_resets_the_count(client, person, clock):
    for _ in range(9):
        attempt(client, "wrong")
    assert attempt(client, DEFAULT_PASSWORD).status_code == 302
    client.logout()
    for _ in range(9):
        assert attempt(client, "wrong").status_code == 200


def test_the_admin_sign_in_is_locked_too(client, clock):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(10):
        last = attempt(client, "wrong", username="root", url=ADMIN_LOGIN)
    assert last.status_code == 429
    assert attempt(client, DEFAULT_PASSWORD, username="root", url=ADMIN_LOGIN).status_code == 429


def test_failed_api_tokens_are_throttled_per_address(member, clock, settings, caplog):
    settings.TOKEN_AUTH_FAILURE_LIMIT = 5
    guesser = APIClient(REMOTE_ADDR="10.0.0.9")
    guesser.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    for _ in range(5):
        assert guesser.get("/api/v1/experiments/").status_code == 401
    with caplog.at_level(logging.WARNING, logger="learninghub.security"):
        throttled = guesser.get("/api/v1/experiments/")
    assert throttled.status_code == 429 and throttled.json()["detail"]
    assert int(throttled["Retry-After"]) > 0
    assert "throttled" in caplog.text
    honest = APIClient(REMOTE_ADDR="10.0.0.10")
    honest.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(member)[1]}")
    assert honest.get("/api/v1/experiments/").status_code == 200
    clock.shift(dt.timedelta(minutes=16))
    assert guesser.get("/api/v1/experiments/").status_code == 401
