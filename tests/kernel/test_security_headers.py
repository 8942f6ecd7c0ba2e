"""Security headers: a strict Content-Security-Policy on every response (scripts by nonce or
from this site only), violations reported to an endpoint that logs them, HSTS when cookies are
secure, private pages never stored by caches, and ``check --deploy`` failing without the CSP.
In Chromium, the pages with charts render with zero violations."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from learninghub.kernel.checks import check_content_security_policy

pytestmark = pytest.mark.django_db


def policy_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("url", ["/", "/experiments/", "/postmortems/", "/search/?q=x", "/dashboards/",
                                 "/profile/", "/admin/"])
def test_pages_carry_a_strict_policy(member_client, url):
    response = member_client.get(url, follow=True)
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert set(policy["script-src"]) <= {"'self'"} | {s for s in policy["script-src"] if s.startswith("'nonce-")}
    assert policy["report-uri"] == ["/csp-report/"]


def test_no_template_has_inline_script_or_handlers(settings):
    import re
    from pathlib import Path

    offenders = []
    pattern = re.compile(r"<script(?![^>]*(?:\bsrc=|type=\"application/json\"|\bnonce=))[^>]*>|\son[a-z]+=\"|"
                         r"javascript:|<style(?![^>]*nonce=)", re.IGNORECASE)
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        if "email" in path.parts:
            continue  # mail bodies are not served to browsers under our CSP
        offenders += [f"{path.name}: {match.group()}" for match in pattern.finditer(path.read_text())]
    assert offenders == []


def test_api_and_anonymous_responses_carry_it_too(client, member_api):
    assert "frame-ancestors 'none'" in client.get("/accounts/login/")["Content-Security-Policy"]
    assert "default-src 'self'" in member_api.get("/api/v1/experiments/")["Content-Security-Policy"]


def test_violations_are_logged(client, caplog):
    report = {"csp-report": {"document-uri": "http://testserver/", "violated-directive": "script-src",
                             "blocked-uri": "inline"}}
    with caplog.at_level(logging.WARNING, logger="learninghub.csp"):
        response = client.post("/csp-report/", json.dumps(report), content_type="application/csp-report")
    assert response.status_code == 204
    assert "script-src" in caplog.text and "CSP violation" in caplog.text


@pytest.mark.parametrize("url", ["/", "/experiments/", "/postmortems/", "/awards/", "/teams/", "/search/?q=x"])
def test_authenticated_pages_are_private_and_not_stored(member_client, url):
    response = member_client.get(url, follow=True)
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_hsts_follows_secure_cookies(monkeypatch):
    import importlib

    import learninghub.settings.base as base

    monkeypatch.setenv("SECURE_COOKIES", "1")
    monkeypatch.setenv("SECRET_KEY", "x")
    secure = importlib.reload(base)
    try:
        assert secure.SECURE_HSTS_SECONDS >= 31_536_000 and secure.SECURE_HSTS_INCLUDE_SUBDOMAINS
    finally:
        monkeypatch.delenv("SECURE_COOKIES")
        plain = importlib.reload(base)
    assert plain.SECURE_HSTS_SECONDS == 0


def test_check_deploy_fails_without_the_policy(settings):
    assert check_content_security_policy(None) == []
    settings.SECURE_CSP = {}
    assert [error.id for error in check_content_security_policy(None)] == ["learninghub.E002"]
    settings.SECURE_CSP = {"default-src": ["'self'"], "script-src": ["'self'", "'unsafe-inline'"],
                           "frame-ancestors": ["'none'"]}
    assert [error.id for error in check_content_security_policy(None)] == ["learninghub.E003"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("ContentSecurityPolicyMiddleware")]
    with pytest.raises(SystemCheckError, match=r"learninghub\.E001"):
        call_command("check", "--deploy", "--fail-level", "ERROR")


# --- In Chromium -----------------------------------------------------------------------------

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
  e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""


@pytest.fixture
def charted_page(page, transactional_db):
    from learninghub.insights.metrics import engine
    from learninghub.kernel.periods import Month
    from tests.conftest import sign_in
    from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
    from tests.factories.experiments import ExperimentFactory
    from tests.factories.postmortems import PostMortemFactory
    from tests.metrics.conftest import at

    team = TeamFactory(name="Recommendations", slug="recsys")
    user = UserFactory(username="csp-carla")
    MembershipFactory(user=user, team=team)
    for day in range(3):
        ExperimentFactory(team=team, failed=True, started_at=at(2025, 11, 2 + day), failure_mode="overfitting")
    PostMortemFactory(team=team, occurred_at=at(2025, 11, 20), failure_mode="overfitting")
    engine.recompute(Month.range(Month(2025, 8), Month(2025, 11)))
    page.add_init_script(COLLECT_VIOLATIONS)
    sign_in(page, "csp-carla", DEFAULT_PASSWORD)
    return page


@pytest.mark.browser
def test_chart_pages_render_with_no_violations(charted_page):
    page = charted_page
    for url in ("/dashboards/recsys/?from=2025-08&to=2025-11", "/", "/experiments/", "/postmortems/",
                "/experiments/new/", "/postmortems/new/", "/search/?q=overfit", "/awards/", "/review-queue/"):
        response = page.goto(url)
        assert response.status == 200, url
        assert "script-src" in response.headers["content-security-policy"]
        if url.startswith("/dashboards/"):
            page.locator(".chart-ready").first.wait_for()
            assert page.locator(".chart-ready .main-svg").count() >= 1
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], url
