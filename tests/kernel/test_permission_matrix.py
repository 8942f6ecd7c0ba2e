"""The permission matrix, generated from the API router: every route and method (custom actions
included) × session and token auth × five kinds of caller, over every record type, restricted
post-mortems and what hangs off them included.

What it pins down: a record the caller may not see is a 404 on every method (never a 403 that
reveals it exists); reads of visible records are 200 and never carry restricted content, in
lists, nested fields or prefetched relations; writes are 403 for callers outside the team, deletes
for non-leads; staff may do everything. One world is built per module (inside one transaction
rolled back at the end) and every test rolls its own writes back, so the matrix stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from experiments.models import LessonApplication, MlflowMapping
from learninghub.api import router
from learninghub.insights.alerts.models import AlertRule, Subscription
from learninghub.kernel.api.viewsets import TeamScopedViewSet
from learninghub.kernel.models import Membership
from tests.factories import MembershipFactory, TeamFactory, UserFactory, issue_token
from tests.factories.awards import AwardCategoryFactory, AwardCycleFactory, NominationFactory, VoteFactory
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

SECRET = "ZANZIBAR"  # in every text of the restricted post-mortem and what hangs off it
ACTORS = ("member", "lead", "other_team", "no_team", "staff")
INSIDE = frozenset({"member", "lead", "staff"})  # may see team A's restricted records, and write A's
LEADS = frozenset({"lead", "staff"})
EVERYONE = frozenset(ACTORS)
AUTHS = ("session", "token")
DETAIL_METHODS = ("get", "put", "patch", "delete")
ALLOWED = "allowed"  # past the access checks: 2xx, or 400/409 about the body or the state

# Which records each registered resource is exercised on. A resource added to the router
# without an entry here fails test_every_resource_is_in_the_matrix.
RECORDS = {
    "api-team": ["team"],
    "api-experiment": ["experiment"],
    "api-lesson": ["public_lesson", "restricted_lesson"],
    "api-postmortem": ["public_postmortem", "restricted_postmortem"],
    "api-action-item": ["public_item", "restricted_item"],
    "api-award-category": ["category"],
    "api-award-cycle": ["cycle"],
    "api-award-nomination": ["nomination"],
    "api-award-vote": ["vote"],
    "api-alert-rule": ["alert_rule"],
    "api-alert-subscription": ["subscription"],
    "api-mlflow-mapping": ["mlflow_mapping"],
}

# Who passes the write check of each action (everything else is 403 when the record is visible).
WRITE_RULES = {"update": INSIDE, "partial_update": INSIDE, "destroy": LEADS, "applications": INSIDE,
               "advance": LEADS, "import_markdown": INSIDE}
# Resources whose writes follow their own rule: thresholds are set by leads; a subscription by its owner.
RESOURCE_WRITE_RULES = {
    "api-alert-rule": {"update": LEADS, "partial_update": LEADS},
    "api-alert-subscription": dict.fromkeys(("update", "partial_update", "destroy", "test"),
                                            frozenset({"member", "staff"})),
    # Which MLflow experiment feeds a team, and its sync: the team's leads.
    "api-mlflow-mapping": dict.fromkeys(("update", "partial_update", "destroy", "sync"), LEADS),
}
SKIPPED_ACTIONS = {"create"}  # creation is covered per app (its rules are the services')


@dataclass(frozen=True)
class Record:
    lookup: str
    visible_to: frozenset[str]


@dataclass(frozen=True)
class World:
    records: dict[str, Record]
    users: dict
    tokens: dict[str, str]
    ids: dict[str, int]
    team_slug: str
    clients: dict[tuple[str, str], APIClient]


def _routes():
    """(basename, action, method, url template, detail) for every route of every viewset."""
    for prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            detail = "{lookup}" in route.url
            suffix = route.url.removeprefix("^{prefix}").removesuffix("$").replace("{trailing_slash}", "/")
            mapping = {method: action for method, action in router.get_method_map(viewset, route.mapping).items()
                       if method in viewset.http_method_names}
            for method, action in mapping.items():
                if action not in SKIPPED_ACTIONS:
                    yield basename, action, method, prefix, suffix, detail
            if route.name.endswith("-detail"):
                for method in DETAIL_METHODS:
                    if method not in mapping:
                        yield basename, None, method, prefix, suffix, detail


def _cases():
    for basename, action, method, prefix, suffix, detail in _routes():
        for record in (RECORDS.get(basename, ["?"]) if detail else [None]):
            yield pytest.param(basename, action, method, prefix, suffix, record,
                               id=f"{method.upper()} {prefix}{suffix} {action or 'not-routed'} {record or 'list'}")


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Team A (member, lead) with a public and a restricted post-mortem, their lessons, action
    items and applications; team B (its member); someone in no team; staff."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _build_world() -> World:
    team_a = TeamFactory(name="Matrix A", slug="matrix-a")
    team_b = TeamFactory(name="Matrix B", slug="matrix-b")
    users = {name: UserFactory(username=f"matrix-{name}", is_staff=name == "staff") for name in ACTORS}
    MembershipFactory(team=team_a, user=users["member"], role=Membership.Role.MEMBER)
    MembershipFactory(team=team_a, user=users["lead"], role=Membership.Role.LEAD)
    MembershipFactory(team=team_b, user=users["other_team"], role=Membership.Role.MEMBER)
    tokens = {name: issue_token(user)[1] for name, user in users.items()}

    now = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    experiment = ExperimentFactory(team=team_a, title="Public experiment", started_at=now - dt.timedelta(days=9),
                                   created_by=users["member"])
    restricted = PostMortemFactory(team=team_a, title=f"{SECRET} outage", restricted=True,
                                   what_happened=f"- {SECRET} leaked", occurred_at=now - dt.timedelta(days=8),
                                   created_by=users["member"])
    public = PostMortemFactory(team=team_a, title="Public outage", occurred_at=now - dt.timedelta(days=7),
                               created_by=users["member"])
    restricted_lesson = LessonFactory(experiment=None, postmortem=restricted, team=team_a,
                                      text=f"{SECRET} lesson", documented_at=now - dt.timedelta(days=6))
    public_lesson = LessonFactory(experiment=None, postmortem=public, team=team_a, text="Public lesson",
                                  documented_at=now - dt.timedelta(days=6))
    restricted_item = ActionItemFactory(postmortem=restricted, owner=users["member"], description=f"{SECRET} rotate")
    # A public item putting the restricted lesson into practice: its `lesson` must read null outside A.
    public_item = ActionItemFactory(postmortem=public, owner=users["member"], description="Public item",
                                    lesson=restricted_lesson)
    # The leak of issue 9: the public experiment applied the restricted lesson…
    applied_in_public = LessonApplication.objects.create(lesson=restricted_lesson, experiment=experiment,
                                                         applied_at=now - dt.timedelta(days=5), note="Applied")
    # …and the public lesson was applied in the restricted post-mortem.
    applied_in_restricted = LessonApplication.objects.create(lesson=public_lesson, postmortem=restricted,
                                                             applied_at=now - dt.timedelta(days=5),
                                                             note=f"{SECRET} note")
    ExperimentFactory(team=team_b, title="Team B experiment", started_at=now - dt.timedelta(days=3))

    category = AwardCategoryFactory(slug="matrix-category", name="Matrix category")
    cycle = AwardCycleFactory(month=dt.date(2026, 3, 1))
    nomination = NominationFactory(cycle=cycle, category=category, nominee=users["lead"],
                                   nominator=users["member"], reason="Ran a fast failure", postmortem=restricted)
    vote = VoteFactory(cycle=cycle, category=category, voter=users["member"], nominee=users["lead"])
    alert_rule = AlertRule.objects.create(team=team_a, kind="system_burst", threshold=3)
    mlflow_mapping = MlflowMapping.objects.create(team=team_a, tracking_uri="http://mlflow:5000",
                                                  experiment_name="ranker")
    subscription = Subscription.objects.create(owner=users["member"], channel="email")

    records = {
        "team": Record(team_a.slug, EVERYONE),
        "experiment": Record(str(experiment.pk), EVERYONE),
        "public_lesson": Record(str(public_lesson.pk), EVERYONE),
        "restricted_lesson": Record(str(restricted_lesson.pk), INSIDE),
        "public_postmortem": Record(str(public.pk), EVERYONE),
        "restricted_postmortem": Record(str(restricted.pk), INSIDE),
        "public_item": Record(str(public_item.pk), EVERYONE),
        "restricted_item": Record(str(restricted_item.pk), INSIDE),
        "category": Record(category.slug, EVERYONE),
        "cycle": Record("2026-03", EVERYONE),
        "nomination": Record(str(nomination.pk), EVERYONE),
        "vote": Record(str(vote.pk), frozenset({"member"})),  # the ballot is secret: one's own votes only
        "alert_rule": Record(str(alert_rule.pk), EVERYONE),
        "subscription": Record(str(subscription.pk), frozenset({"member", "staff"})),  # one's own, and staff
        "mlflow_mapping": Record(str(mlflow_mapping.pk), INSIDE),  # a tracking server is the team's business
    }
    ids = {"experiment": experiment.pk, "restricted_postmortem": restricted.pk, "public_postmortem": public.pk,
           "restricted_lesson": restricted_lesson.pk, "public_lesson": public_lesson.pk,
           "restricted_item": restricted_item.pk, "public_item": public_item.pk,
           "applied_in_public": applied_in_public.pk, "applied_in_restricted": applied_in_restricted.pk,
           "nomination": nomination.pk}
    # One client per caller and auth for the whole module: a client builds its request handler
    # (and the middleware) once, which is most of the cost of a first request.
    clients = {("anonymous", "none"): APIClient()}
    for name, user in users.items():
        clients[name, "token"] = APIClient()
        clients[name, "token"].credentials(HTTP_AUTHORIZATION=f"Token {tokens[name]}")
        clients[name, "session"] = APIClient()
        clients[name, "session"].force_login(user)
    return World(records=records, users=users, tokens=tokens, ids=ids, team_slug=team_a.slug, clients=clients)


def _client(world: World, actor: str, auth: str) -> APIClient:
    return world.clients[actor, auth]


def _body(world: World, action: str | None) -> dict:
    if action == "applications":
        return {"experiment": world.ids["experiment"]}
    if action == "import_markdown":
        return {"team": world.team_slug, "markdown": "## Post-Mortem: Imported by the matrix\n"}
    return {}


def _expected(action: str | None, method: str, record: Record | None, actor: str, basename: str = "") -> int | str:
    if action is None:
        return 405  # a method the route does not have: the same answer whether the record exists or not
    if record is not None and actor not in record.visible_to:
        return 404
    if method == "get":
        return 200
    allowed = RESOURCE_WRITE_RULES.get(basename, {}).get(action) or WRITE_RULES[action]
    return ALLOWED if actor in allowed else 403


def _text(response) -> str:
    return response.content.decode()


def test_every_resource_is_in_the_matrix():
    assert {basename for _prefix, _viewset, basename in router.registry} == set(RECORDS)


def test_every_viewset_derives_from_the_scoped_base():
    for prefix, viewset, _basename in router.registry:
        assert issubclass(viewset, TeamScopedViewSet), prefix


@pytest.mark.parametrize("method", ["get_queryset", "get_permissions"])
def test_a_viewset_cannot_bypass_the_policy(method):
    with pytest.raises(TypeError, match=method):
        type("Sneaky", (TeamScopedViewSet,), {method: lambda self: None})


def test_an_action_cannot_bring_its_own_permissions():
    from rest_framework.decorators import action
    from rest_framework.permissions import AllowAny

    with pytest.raises(TypeError, match="permission_classes"):
        type("Sneaky", (TeamScopedViewSet,), {"peek": action(detail=True, permission_classes=[AllowAny])(
            lambda self, request, pk=None: None)})
    with pytest.raises(TypeError, match="permission_classes"):
        type("Sneaky", (TeamScopedViewSet,), {"permission_classes": [AllowAny]})


@pytest.mark.parametrize(("basename", "action", "method", "prefix", "suffix", "record_key"), list(_cases()))
def test_matrix(world, db, basename, action, method, prefix, suffix, record_key):
    assert record_key != "?", f"{basename} has no records in RECORDS"
    record = world.records[record_key] if record_key else None
    url = "/api/v1/" + prefix + suffix.replace("{lookup}", record.lookup if record else "")
    url = url.replace("//", "/")
    body = _body(world, action)
    failures = []
    anonymous = getattr(_client(world, "anonymous", "none"), method)(url, body, format="json")
    if anonymous.status_code != 401:
        failures.append(f"anonymous: {anonymous.status_code}")
    for auth in AUTHS:
        for actor in ACTORS:
            sid = transaction.savepoint()
            response = getattr(_client(world, actor, auth), method)(url, body, format="json")
            transaction.savepoint_rollback(sid)
            want = _expected(action, method, record, actor, basename)
            got = response.status_code
            ok = (got not in (401, 403, 404, 405) and got < 500) if want == ALLOWED else got == want
            if not ok:
                failures.append(f"{actor}/{auth}: {got}, expected {want}: {_text(response)[:200]}")
            if method == "get" and got == 200 and actor not in INSIDE and SECRET in _text(response):
                failures.append(f"{actor}/{auth}: restricted content in the body")
    assert not failures, f"{method.upper()} {url}\n" + "\n".join(failures)


# --- Restricted ids in nested fields and prefetched relations ------------------------------------


def _get(world: World, actor: str, url: str) -> dict:
    response = _client(world, actor, "token").get(url, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _ids(page: dict) -> set[int]:
    return {row["id"] for row in page["results"]}


@pytest.mark.parametrize("actor", ACTORS)
def test_nested_and_prefetched_fields_hide_restricted_ids(world, db, actor):
    inside = actor in INSIDE
    ids = world.ids
    experiment = _get(world, actor, f"/api/v1/experiments/{ids['experiment']}/")
    assert (ids["restricted_lesson"] in experiment["applied_lessons"]) is inside
    listed = next(row for row in _get(world, actor, "/api/v1/experiments/?page_size=200")["results"]
                  if row["id"] == ids["experiment"])
    assert listed["applied_lessons"] == experiment["applied_lessons"]

    assert (ids["restricted_lesson"] in _ids(_get(world, actor, "/api/v1/lessons/?page_size=200"))) is inside
    assert (ids["restricted_postmortem"] in _ids(_get(world, actor, "/api/v1/postmortems/?page_size=200"))) is inside
    assert (ids["restricted_item"] in _ids(_get(world, actor, "/api/v1/action-items/?page_size=200"))) is inside

    item = _get(world, actor, f"/api/v1/action-items/{ids['public_item']}/")
    assert (item["lesson"] == ids["restricted_lesson"]) is inside
    postmortem = _get(world, actor, f"/api/v1/postmortems/{ids['public_postmortem']}/")
    nested = {row["id"]: row for row in postmortem["action_items"]}[ids["public_item"]]
    assert (nested["lesson"] == ids["restricted_lesson"]) is inside

    lesson = _get(world, actor, f"/api/v1/lessons/{ids['public_lesson']}/")
    assert lesson["application_count"] == (1 if inside else 0)
    applications = _get(world, actor, f"/api/v1/lessons/{ids['public_lesson']}/applications/")
    assert (ids["applied_in_restricted"] in _ids(applications)) is inside

    nomination = _get(world, actor, f"/api/v1/awards/nominations/{ids['nomination']}/")
    assert (nomination["postmortem"] == ids["restricted_postmortem"]) is inside
    nominations = _get(world, actor, "/api/v1/awards/nominations/")
    assert (ids["restricted_postmortem"] in {row["postmortem"] for row in nominations["results"]}) is inside
    if not inside:
        for body in (experiment, listed, item, postmortem, lesson, applications, nomination, nominations):
            assert SECRET not in json.dumps(body)
