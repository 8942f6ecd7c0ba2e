"""A hostile-input sweep over the whole API: every list endpoint × every filter (plus ``page`` and
``page_size``) × every kind of hostile value, and every create endpoint × every field of a valid
body × every kind of hostile value, plus bodies that are too deep or too big. Never a 5xx, and
every answer from ``/api/`` is JSON; NUL bytes and lone surrogates are a 400 naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from awards.models import CycleState
from learninghub.api import router
from tests.factories import UserFactory, issue_token
from tests.factories.awards import AwardCategoryFactory, AwardCycleFactory, NominationFactory
from tests.factories.experiments import ExperimentFactory

pytestmark = pytest.mark.django_db

LIST_ENDPOINTS = sorted((prefix, viewset) for prefix, viewset, _ in router.registry if hasattr(viewset, "list"))
CREATE_ENDPOINTS = sorted(prefix for prefix, viewset, _ in router.registry if hasattr(viewset, "create"))

# Raw query-string values (already percent-encoded where they need to be).
QUERY_VALUES = {
    "nul": "a%00b",
    "surrogate": "%ED%A0%80",
    "huge_integer": "9" * 40,
    "big_page": "233978703",
    "negative": "-1",
    "odd_offset": "1115-02-24T22:24:27%2B14:34",
    "far_future": "6021-02-24T22:24:27%2B14:00",
    "year_one_east": "0001-01-01T00:00:00%2B14:00",
    "year_9999_west": "9999-12-31T23:59:59-14:00",
    "five_digit_year": "10000-01-01",
    "long_text": "x" * 5000,
}

# JSON text (the raw bytes sent) of hostile string values put in place of a field's value.
JSON_STRINGS = {
    "nul": r'"a\u0000b"',
    "surrogate": r'"a\ud800b"',
    "low_surrogate": r'"\udfff"',
    "odd_date": '"1115-02-24T22:24:27+14:34"',
    "year_one_east": '"0001-01-01T00:00:00+14:00"',
    "year_9999_west": '"9999-12-31T23:59:59-14:00"',
    "huge_integer": "9" * 400,
    "deep": "[" * 1000 + "]" * 1000,
    "big_list": json.dumps(["x"] * 2000),
}

BAD_TEXT_KINDS = {"nul", "surrogate", "low_surrogate"}


def api_for(user) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)[1]}")
    return client


@pytest.fixture
def hostile_api(member) -> APIClient:
    return api_for(member)


@pytest.fixture
def valid_bodies(team, member) -> dict[str, dict]:
    """A body each create endpoint accepts, so hostile values reach past the first check."""
    experiment = ExperimentFactory(team=team, created_by=member)
    cycle = AwardCycleFactory(month=__import__("datetime").date(2026, 11, 1), state=CycleState.VOTING)
    category = AwardCategoryFactory(slug="fast-fail", name="Fast Fail Award", position=10)
    nominee = UserFactory(username="nina")
    NominationFactory(cycle=cycle, category=category, nominee=nominee, nominator=UserFactory(username="noel"))
    return {
        "experiments": {
            "team": team.slug, "title": "Try it", "hypothesis": "It works", "approach": "Like so",
            "started_at": "2026-11-01T08:00:00Z", "ended_at": "2026-11-02T08:00:00Z", "outcome": "failure",
            "failure_kind": "productive", "failure_mode": "other", "metrics": {"ctr": 0.5},
            "next_steps": ["again"], "lessons": ["one", {"text": "two", "documented_at": "2026-11-02T08:00:00Z"}],
            "error_type": "", "detect_repeats": False,
        },
        "lessons": {"text": "Learned", "experiment": experiment.pk, "documented_at": "2026-11-02T08:00:00Z"},
        "postmortems": {
            "team": team.slug, "title": "Outage", "severity": "sev2", "occurred_at": "2026-11-01T08:00:00Z",
            "detected_at": "2026-11-01T09:00:00Z", "resolved_at": "2026-11-01T10:00:00Z",
            "what_happened": "- it broke", "root_cause": "- a bug",
            "action_items": [{"description": "Fix it", "due_date": "2026-11-30"}],
            "lessons": ["Test more"], "detect_repeats": False,
        },
        "awards/nominations": {"cycle": "2026-11", "category": "fast-fail", "nominee": "nina",
                               "reason": "Stopped early"},
        "awards/votes": {"cycle": "2026-11", "category": "fast-fail", "nominee": "nina"},
    }


def generic_body(valid_bodies: dict) -> dict:
    """For a create endpoint without a known valid body: the common kinds of field."""
    return {"team": valid_bodies["experiments"]["team"], "name": "x", "kind": "x", "threshold": 1,
            "enabled": True, "url": "https://example.com/hook", "settings": {"a": [1]}}


def filter_names(viewset) -> list[str]:
    filterset = getattr(viewset, "filterset_class", None)
    names = list(filterset.base_filters) if filterset is not None else []
    return [*names, "page", "page_size", "search", "q", "ordering"]


def leaf_paths(value, path: tuple = ()) -> Iterator[tuple]:
    """Every place in a JSON body a hostile value can go: each field, each list item, each key's value."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*path, index))


MARKER = "__HOSTILE__"


def with_hostile(body, path: tuple, raw: str) -> bytes:
    """``body`` as JSON bytes with the value at ``path`` replaced by the raw JSON text ``raw``."""
    body = json.loads(json.dumps(body))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = MARKER
    return json.dumps(body).replace(json.dumps(MARKER), raw).encode()


def assert_json_not_5xx(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.content[:300]!r}"
    assert response["Content-Type"].startswith("application/json"), (
        f"{what}: {response.status_code} answered {response['Content-Type']}: {response.content[:200]!r}")
    json.loads(response.content)


@pytest.mark.parametrize("kind", sorted(QUERY_VALUES))
@pytest.mark.parametrize(("prefix", "viewset"), LIST_ENDPOINTS, ids=[prefix for prefix, _ in LIST_ENDPOINTS])
def test_list_filters_never_fail(hostile_api, valid_bodies, prefix, viewset, kind):
    raw = QUERY_VALUES[kind]
    for name in filter_names(viewset):
        response = hostile_api.get(f"/api/v1/{prefix}/?{name}={raw}")
        assert_json_not_5xx(response, f"GET {prefix}?{name}={kind}")
        if kind in {"nul", "surrogate"} and kind == "nul":
            assert response.status_code == 400, f"{prefix}?{name}: NUL accepted"
            assert name in response.json(), response.json()


@pytest.mark.parametrize("kind", sorted(JSON_STRINGS))
@pytest.mark.parametrize("prefix", CREATE_ENDPOINTS)
def test_create_fields_never_fail(hostile_api, valid_bodies, prefix, kind):
    body = valid_bodies.get(prefix) or generic_body(valid_bodies)
    for path in leaf_paths(body):
        response = hostile_api.generic("POST", f"/api/v1/{prefix}/", with_hostile(body, path, JSON_STRINGS[kind]),
                                       content_type="application/json")
        what = f"POST {prefix} {'.'.join(map(str, path))}={kind}"
        assert_json_not_5xx(response, what)
        if kind in BAD_TEXT_KINDS:
            assert response.status_code == 400, what
            assert str(path[0]) in json.dumps(response.json()), (what, response.json())


@pytest.mark.parametrize("prefix", CREATE_ENDPOINTS)
def test_hostile_keys_and_whole_bodies(hostile_api, valid_bodies, prefix):
    url = f"/api/v1/{prefix}/"
    bodies = {
        "nul_key": b'{"a\\u0000b": 1}',
        "surrogate_key": b'{"\\ud800": 1}',
        "deep_object": b'{"a":' * 1000 + b"1" + b"}" * 1000,
        "deep_list": b"[" * 100_000 + b"]" * 100_000,
        "not_json": b"{nope",
        "invalid_utf8": b'{"title": "\xed\xa0\x80"}',
        "list": b"[]",
        "number": b"1e999999",
    }
    for what, raw in bodies.items():
        response = hostile_api.generic("POST", url, raw, content_type="application/json")
        assert_json_not_5xx(response, f"POST {prefix} {what}")
        assert response.status_code == 400, (what, response.status_code)
    form = hostile_api.post(url, {"title": "a\x00b"}, format="multipart")
    assert_json_not_5xx(form, f"POST {prefix} form NUL")
    assert form.status_code == 400 and "title" in form.json()


def test_over_size_bodies_are_413_json(hostile_api, settings, valid_bodies):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = dict(valid_bodies["experiments"], approach="x" * 20_000)
    response = hostile_api.post("/api/v1/experiments/", body, format="json")
    assert response.status_code == 413
    assert response.json()["detail"]


def test_a_page_past_the_end_is_a_404_json(hostile_api, valid_bodies):
    for page in ("2", "233978703", "99999999999", "0", "-1", "last", "x", "1e3"):
        response = hostile_api.get(f"/api/v1/experiments/?page={page}")
        if page == "last":
            assert response.status_code == 200
            continue
        assert response.status_code == 404, page
        assert response.json()["detail"]


@pytest.mark.parametrize("value", ["1115-02-24T22:24:27+14:34", "0001-01-01T00:00:00+14:00",
                                   "9999-12-31T23:59:59-14:00", "2026-11-01T00:00:00+23:00"])
def test_odd_moments_in_filters_are_400(hostile_api, value):
    response = hostile_api.get("/api/v1/lessons/", {"documented_after": value})
    assert response.status_code == 400
    assert "documented_after" in response.json()


def test_unknown_api_paths_and_methods_are_json(hostile_api, api_client):
    client = APIClient(raise_request_exception=False)
    for response in (hostile_api.get("/api/v1/nope/"), hostile_api.get("/api/nope"),
                     client.post("/api/v1/experiments/", {}, format="json"),
                     hostile_api.delete("/api/v1/experiments/")):
        assert 400 <= response.status_code < 500
        assert response["Content-Type"].startswith("application/json"), response.content[:200]


def test_pages_answer_a_bad_query_with_an_html_400(member_client):
    response = member_client.get("/experiments/?q=a%00b")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert b"q" in response.content


@pytest.mark.parametrize(("prefix", "field", "items", "cap"), [
    ("experiments", "lessons", [f"lesson {n}" for n in range(51)], "50"),
    ("experiments", "next_steps", [f"step {n}" for n in range(51)], "50"),
    ("experiments", "metrics", {f"m{n}": n for n in range(101)}, "100"),
    ("experiments", "applied_lessons", list(range(1, 102)), "100"),
    ("postmortems", "lessons", [f"lesson {n}" for n in range(51)], "50"),
    ("postmortems", "action_items", [{"description": f"do {n}"} for n in range(51)], "50"),
])
def test_nested_collections_are_capped(hostile_api, valid_bodies, prefix, field, items, cap):
    response = hostile_api.post(f"/api/v1/{prefix}/", dict(valid_bodies[prefix], **{field: items}), format="json")
    assert response.status_code == 400
    assert cap in json.dumps(response.json()[field]), response.json()


def test_a_line_break_in_an_action_item_reaches_no_mail_header(member_api, team, member, mailoutbox,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_api.post("/api/v1/postmortems/", {
            "team": team.slug, "title": "Outage", "occurred_at": "2026-11-01T08:00:00Z",
            "action_items": [{"description": "Fix it\nBcc: everyone@example.com\r\nnow", "owner": member.username}],
        }, format="json")
    assert response.status_code == 201, response.json()
    [mail] = mailoutbox
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject.startswith("[LearningHub] Action item assigned: Fix it Bcc:")


def test_a_failing_after_commit_hook_does_not_fail_a_saved_write(member_api, team, member, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    def broken(**kwargs):
        raise RuntimeError("mail server on fire")

    monkeypatch.setattr("postmortems.services.action_item_assignment_email_send", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = member_api.post("/api/v1/postmortems/", {
            "team": team.slug, "title": "Outage", "occurred_at": "2026-11-01T08:00:00Z",
            "action_items": [{"description": "Fix it", "owner": member.username}],
        }, format="json")
    assert response.status_code == 201


def test_download_file_names_are_header_safe():
    from django.http import HttpResponse

    from learninghub.kernel.headers import set_download_filename

    response = set_download_filename(HttpResponse(), 'a\r\nSet-Cookie: x=1"\u00e9.md')
    assert "\n" not in response["Content-Disposition"] and "\r" not in response["Content-Disposition"]
    assert response["Content-Disposition"].startswith("attachment;")
