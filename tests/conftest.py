"""Shared fixtures: people and teams, API clients, a clock, a live server with Chromium, a real Celery worker."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import factory.random
import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from learninghub.kernel.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory, issue_token

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses DB access
# from such a thread unless told it is safe (it is: the loop is Playwright's, not ours).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The instant the ``clock`` fixture stops at unless a test asks for another: mid-month, mid-morning
# UTC, so that neither the UTC date nor any local date is near a day's or a month's edge.
DEFAULT_NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)
# Tests asking for one of these run tasks through a real broker (eager mode off).
REAL_WORKER_FIXTURES = {"celery_worker_process", "fault_broker"}
# Set to an ISO instant (e.g. 2027-03-01T00:10:00Z) to run the whole suite as if it were then,
# the clock ticking from there: proves no test depends on the day it runs.
TEST_NOW_VARIABLE = "LEARNINGHUB_TEST_NOW"
_session_travel: time_machine.travel | None = None


def pytest_configure(config):
    """Start the whole-suite time travel asked for by ``LEARNINGHUB_TEST_NOW``, before collection
    (so module-level dates see it too)."""
    global _session_travel
    raw = os.environ.get(TEST_NOW_VARIABLE, "").strip()
    if raw:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise pytest.UsageError(f"{TEST_NOW_VARIABLE} needs a UTC offset or Z, got {raw!r}")
        _session_travel = time_machine.travel(moment, tick=True)
        _session_travel.start()
    config.addinivalue_line("markers", "clock(moment, tick=False): where the ``clock`` fixture stops")


def pytest_unconfigure(config):
    if _session_travel is not None:
        _session_travel.stop()


def pytest_report_header(config):
    if _session_travel is not None:
        return f"{TEST_NOW_VARIABLE}: the suite runs as if it were {os.environ[TEST_NOW_VARIABLE]}"
    return None


@pytest.fixture
def clock(request, time_machine):
    """A stopped clock at ``DEFAULT_NOW`` (or at ``@pytest.mark.clock(moment)``'s moment).

    Returns time-machine's fixture: ``clock.move_to(moment)`` goes elsewhere, ``clock.shift(delta)``
    moves on. Use it in every test whose expectations depend on "now".
    """
    marker = request.node.get_closest_marker("clock")
    moment, tick = DEFAULT_NOW, False
    if marker:
        moment = marker.args[0] if marker.args else marker.kwargs.get("moment", DEFAULT_NOW)
        tick = marker.kwargs.get("tick", False)
    time_machine.move_to(moment, tick=tick)
    return time_machine


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(autouse=True)
def _repeatable_fake_text(request):
    """factory_boy's Faker text (hypotheses, approaches, lessons) is the same on every run of a
    test: random words once made a search test fail now and then (an unrelated experiment's
    random paragraph held a word the test looked for)."""
    factory.random.reseed_random(request.node.nodeid)
    yield


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (debounce keys, cached figures)."""
    from django.core.cache import cache

    with contextlib.suppress(Exception):
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _celery_mode(request):
    """Tasks run in-process (the test profile's default) in every test except those that ask for
    a real worker, and a test that switches eager mode off leaves it on for the next.

    This keeps the suite deterministic on the PostgreSQL/Redis run too, while the tests that
    use ``celery_worker_process`` prove the real broker path end to end.
    """
    from learninghub.celery import app
    from learninghub.kernel import cache, queue

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = not REAL_WORKER_FIXTURES.intersection(request.fixturenames)
    queue.breaker.reset()  # a broker (or cache) failure of an earlier test is not this test's
    cache.breaker.reset()
    yield
    app.conf.task_always_eager = previous
    queue.breaker.reset()
    cache.breaker.reset()


@pytest.fixture
def team(db):
    return TeamFactory(name="Recommendations", slug="recsys")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Data Platform", slug="data-platform")


@pytest.fixture
def member(team):
    return MembershipFactory(team=team, user=UserFactory(username="mia"), role=Membership.Role.MEMBER).user


@pytest.fixture
def lead(team):
    return MembershipFactory(team=team, user=UserFactory(username="leo"), role=Membership.Role.LEAD).user


@pytest.fixture
def outsider(other_team):
    """A member of another team: may read, may not write ``team``'s records."""
    return MembershipFactory(team=other_team, user=UserFactory(username="olga"), role=Membership.Role.MEMBER).user


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def member_api(member):
    client = APIClient()
    _token, key = issue_token(member)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def lead_api(lead):
    client = APIClient()
    _token, key = issue_token(lead)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def outsider_api(outsider):
    client = APIClient()
    _token, key = issue_token(outsider)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


# --- Browser ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:
    """Sign in through the real form, as a person would."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


# --- Real Celery worker (PostgreSQL/Redis run) ------------------------------------------

@pytest.fixture
def celery_worker_process(transactional_db):
    """A real ``celery worker`` process on the configured Redis broker, using the test database.

    Skipped on the embedded defaults (no REDIS_URL: tasks run in-process there).
    """
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: a real broker and worker")
    # The worker runs the production profile (as a deployed one does), on the test database.
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="learninghub.settings", SECRET_KEY=settings.SECRET_KEY)
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    from learninghub.celery import app

    app.control.purge()  # messages left by earlier tests refer to rows that no longer exist
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    process = subprocess.Popen(
        [celery, "-A", "learninghub", "worker", "--pool=solo", "--loglevel=warning", "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"celery worker exited early:\n{process.stdout.read()}")
        try:
            if app.control.inspect(timeout=0.5).ping():
                break
        except Exception:
            time.sleep(0.3)
    else:
        process.terminate()
        pytest.fail("celery worker did not come up within 30 s")
    yield process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
