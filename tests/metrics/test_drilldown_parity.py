"""Drill-down parity: every count the dashboards link equals the count of the list it opens.

Records sit right at month boundaries (23:30 UTC on the last day, 00:30 UTC on the first), so a
list that read a link's bounds as local midnight would gain or lose them; every check runs with
the site in UTC and in Europe/Paris. The numbers and their links are read from the pages
themselves (cards, the monthly table, the chart bars, the organisation's team table), so a number
added to a dashboard later is checked too.

Restricted post-mortems count in the figures for every viewer. For a viewer who may open
everything (a member of every team) each list holds exactly the number; for a viewer outside the
team, the list's rows plus its note ("1 restricted record of Recommendations not shown") do.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine

from learninghub.kernel.models import Membership
from tests.factories import MembershipFactory, UserFactory
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.metrics.conftest import make_lesson

pytestmark = pytest.mark.django_db

TIME_ZONES = pytest.mark.parametrize("time_zone", ["UTC", "Europe/Paris"])
COUNT = re.compile(r"^(\d[\d,]*)(?: [a-z][a-z' -]*)?$")  # "4", "4 experiments", "1 repeated", "2 in progress"


def utc(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


# The edges of November 2026 (UTC): just before it starts, just after, just before it ends, just after.
OCT_LAST = utc(2026, 10, 31, 23, 30)
NOV_FIRST = utc(2026, 11, 1, 0, 30)
NOV_LAST = utc(2026, 11, 30, 23, 30)
DEC_FIRST = utc(2026, 12, 1, 0, 30)


@pytest.fixture(autouse=True)
def _mid_december():
    """Mid-December 2026: November is complete and its unfinished action items are overdue."""
    with time_machine.travel(dt.datetime(2026, 12, 15, 12, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def viewer(client, team, other_team):
    """Someone who may open every record: a member of both teams."""
    user = UserFactory(username="vera")
    for each in (team, other_team):
        MembershipFactory(team=each, user=user, role=Membership.Role.MEMBER)
    client.force_login(user)
    return client


def failed(team, ended_at, *, mode="overfitting", kind="productive", **extra):
    return ExperimentFactory(team=team, started_at=utc(2026, 10, 20), outcome="failure", ended_at=ended_at,
                             failure_mode=mode, failure_kind=kind, **extra)


def postmortem(team, occurred_at, resolved_at=None, **extra):
    detected_at = occurred_at + dt.timedelta(minutes=10)
    return PostMortemFactory(team=team, occurred_at=occurred_at, detected_at=detected_at,
                             resolved_at=resolved_at or occurred_at + dt.timedelta(days=3), **extra)


@pytest.fixture
def world(team, other_team):
    """November 2026 of ``team`` (and a little of ``other_team``), every record at a boundary."""
    for started, novel in [(OCT_LAST, True), (NOV_FIRST, True), (NOV_LAST, False), (DEC_FIRST, True)]:
        ExperimentFactory(team=team, started_at=started, is_novel=novel)
    first_failure = failed(team, OCT_LAST)
    failed(team, NOV_FIRST, repeat_of=first_failure)
    failed(team, NOV_LAST, mode="", kind="")  # unspecified mode and kind
    failed(team, utc(2026, 11, 15), mode="infrastructure", kind="system")
    failed(team, DEC_FIRST)

    october = postmortem(team, OCT_LAST, resolved_at=NOV_FIRST)
    repeat = postmortem(team, NOV_FIRST, resolved_at=DEC_FIRST, repeat_of=october, failure_mode="data_quality")
    secret = postmortem(team, NOV_LAST - dt.timedelta(minutes=30), resolved_at=NOV_LAST, failure_mode="",
                        restricted=True)
    postmortem(team, DEC_FIRST)

    source = ExperimentFactory(team=team, started_at=utc(2020, 1, 5), title="Where lessons come from")
    # The window of November ends 2026-12-01T00:00Z and starts 365 days before: 2025-12-01T00:00Z.
    make_lesson(team, source, utc(2025, 11, 30, 23, 30))
    make_lesson(team, source, utc(2025, 12, 1, 0, 30), applied_at=NOV_LAST)
    make_lesson(team, source, NOV_LAST, applied_at=DEC_FIRST)
    make_lesson(team, source, DEC_FIRST)
    LessonFactory(team=team, experiment=None, postmortem=secret, documented_at=utc(2026, 11, 15))

    for due, status, completed in [
        (dt.date(2026, 10, 31), "open", None),
        (dt.date(2026, 11, 1), "done", OCT_LAST),  # on time
        (dt.date(2026, 11, 30), "done", DEC_FIRST),  # late
        (dt.date(2026, 11, 15), "in_progress", None),  # overdue
        (dt.date(2026, 11, 10), "wont_do", None),
        (dt.date(2026, 12, 1), "open", None),
    ]:
        ActionItemFactory(postmortem=repeat, due_date=due, status=status, completed_at=completed)
    ActionItemFactory(postmortem=secret, due_date=dt.date(2026, 11, 20), status="open")  # overdue, restricted

    for started in (OCT_LAST, NOV_FIRST):
        ExperimentFactory(team=other_team, started_at=started)
    failed(other_team, NOV_LAST)
    postmortem(other_team, NOV_FIRST, resolved_at=NOV_LAST)


EXPECTED_NOVEMBER = {
    "experiments_started": 2, "experiments_novel": 1, "experiment_failures": 3, "experiment_repeat_failures": 1,
    "postmortem_failures": 2, "postmortem_repeat_failures": 1, "postmortems_resolved": 2,
    "lessons_in_window": 3, "lessons_applied": 1, "action_items_due": 5, "action_items_done": 2,
    "action_items_done_on_time": 1, "action_items_open": 1, "action_items_in_progress": 1,
    "action_items_overdue": 2, "action_items_wont_do": 1,
    "failures_by_kind": {"productive": 1, "system": 1, "unspecified": 1},
    "experiment_failures_by_mode": {"infrastructure": 1, "overfitting": 1, "unspecified": 1},
}


def linked_counts_of_cards(cards) -> list[tuple[str, int, str]]:
    """(what, number, url) for every count in the cards' sentences that links to records."""
    found = []
    for card in cards:
        for line in card.lines:
            for text, url in line:
                match = COUNT.match(text.strip())
                if url and match:
                    found.append((f"card {card.key}: {text!r}", int(match.group(1).replace(",", "")), url))
    return found


def linked_counts_of_cells(cells, where: str) -> list[tuple[str, int, str]]:
    """Every count of the cells that links to records: the cell's own, and its further links
    (repeats of experiments and of post-mortems, each in its own list)."""
    found = []
    for cell in cells:
        for what, text, url in [(cell.title, cell.text, cell.url),
                                *((f"{cell.title} {text!r}", text, url) for text, url in cell.links)]:
            if url and (match := COUNT.match(text.strip())):
                found.append((f"{where}: {what}", int(match.group(1).replace(",", "")), url))
    return found


def linked_counts_of_bars(panels, month_label: str) -> list[tuple[str, int, str]]:
    """Every bar (and the overdue line) of the count charts, at ``month_label``."""
    found = []
    for panel in panels:
        if panel["key"] not in {"modes", "kinds", "actions"} or not panel["figure_json"]:
            continue
        for trace in json.loads(panel["figure_json"])["data"]:
            index = trace["x"].index(month_label)
            found.append((f"chart {panel['key']}: {trace['name']}", trace["y"][index], trace["customdata"][index]))
    return found


def listed(client, url: str, *, with_note: bool = False) -> int:
    """The rows of the list ``url`` opens (and, ``with_note``, the restricted records it says it
    leaves out)."""
    response = client.get(url)
    assert response.status_code == 200, url
    form = response.context["filter"].form
    assert not form.errors, (url, form.errors)
    hidden = sum(count for _name, count in response.context.get("hidden") or [])
    if not with_note:
        assert hidden == 0, (url, "a viewer of every team is shown a note")
    return response.context["page_obj"].paginator.count + hidden


def assert_parity(client, numbers: list[tuple[str, int, str]], *, with_note: bool = False) -> None:
    counts = {url: listed(client, url, with_note=with_note) for url in {url for _what, _number, url in numbers}}
    mismatches = [(what, number, counts[url], url) for what, number, url in numbers if counts[url] != number]
    assert not mismatches, "\n".join(f"{what}: shows {number}, the list has {count} ({url})"
                                     for what, number, count, url in mismatches)


@TIME_ZONES
def test_every_linked_count_on_the_team_dashboard_equals_its_list(settings, viewer, team, world, time_zone):
    settings.TIME_ZONE = time_zone
    response = viewer.get("/dashboards/recsys/", {"from": "2026-11", "to": "2026-11"})
    assert response.status_code == 200
    snapshot = response.context["cards"] and next(row for row in response.context["rows"])
    assert snapshot
    numbers = (linked_counts_of_cards(response.context["cards"])
               + [item for row in response.context["rows"] for item in linked_counts_of_cells(row["cells"], "table")]
               + linked_counts_of_bars(response.context["panels"], "Nov 2026"))
    shown = {what for what, _number, _url in numbers}
    for expected in ["card velocity: '2 experiments'", "card innovation: '1'", "card repeat: '3 failed experiments'",
                     "card repeat: '1 repeated'", "card repeat: '2 post-mortems'", "card lessons: '3 lessons'",
                     "card lessons: '1'", "card recovery: '2 post-mortems'", "card actions: '5 action items'",
                     "card actions: '1 open'", "card actions: '1 in progress'", "card actions: '2 overdue'",
                     "table: Post-mortems resolved", "chart modes: Unspecified · experiments",
                     "chart modes: Unspecified · post-mortems", "chart kinds: System (crashed)",
                     "chart actions: Done", "chart actions: Won't do"]:
        assert expected in shown, expected
    assert_parity(viewer, numbers)


def test_every_linked_count_equals_the_list_and_its_note_for_a_viewer_outside_the_team(client, team, other_team,
                                                                                       world):
    """Outside Recommendations, its restricted post-mortem (and its action item and lesson) can't be
    opened: each list's rows plus its restricted note still equal the number that links to it."""
    outsider = UserFactory(username="otto")
    MembershipFactory(team=other_team, user=outsider, role=Membership.Role.MEMBER)
    client.force_login(outsider)
    response = client.get("/dashboards/recsys/", {"from": "2026-11", "to": "2026-11"})
    numbers = (linked_counts_of_cards(response.context["cards"])
               + [item for row in response.context["rows"] for item in linked_counts_of_cells(row["cells"], "table")]
               + linked_counts_of_bars(response.context["panels"], "Nov 2026"))
    assert_parity(client, numbers, with_note=True)
    pages = {url: client.get(url) for _what, _number, url in numbers}
    notes = {name for page in pages.values() for name, _count in page.context.get("hidden") or []}
    assert notes == {"Recommendations"}, "the restricted records are noted, and whose they are"
    assert any("lessons" in url and page.context["hidden"] for url, page in pages.items())


@TIME_ZONES
def test_the_team_figures_are_the_november_records(settings, viewer, team, world, time_zone):
    """The parity above is not vacuous: the figures count exactly the records inside November (UTC)."""
    from learninghub.insights.metrics.models import MetricSnapshot

    settings.TIME_ZONE = time_zone
    assert viewer.get("/dashboards/recsys/", {"from": "2026-11", "to": "2026-11"}).status_code == 200
    snapshot = MetricSnapshot.objects.get(team=team, month=dt.date(2026, 11, 1))
    assert {name: getattr(snapshot, name) for name in EXPECTED_NOVEMBER} == EXPECTED_NOVEMBER


@TIME_ZONES
def test_every_linked_count_on_the_organisation_dashboard_equals_its_list(settings, viewer, world, time_zone):
    settings.TIME_ZONE = time_zone
    response = viewer.get("/", {"month": "2026-11"})
    assert response.status_code == 200
    numbers = linked_counts_of_cards(response.context["cards"])
    for row in response.context["team_rows"]:
        numbers += linked_counts_of_cells(row["cells"], f"team {row['team'].slug}")
    by_what = {what: number for what, number, _url in numbers}
    assert by_what["team recsys: Repeat failures of all failures '1 experiment'"] == 1
    assert by_what["team recsys: Repeat failures of all failures '1 post-mortem'"] == 1
    assert by_what["card velocity: '3 experiments'"] == 3  # 2 of recsys + 1 of data-platform
    assert by_what["card repeat: '3 post-mortems'"] == 3
    assert by_what["team recsys: Experiments started"] == 2
    assert by_what["team data-platform: Experiments started"] == 1
    assert_parity(viewer, numbers)


@TIME_ZONES
def test_links_carry_utc_bounds_and_due_dates_as_days(settings, viewer, world, time_zone):
    settings.TIME_ZONE = time_zone
    response = viewer.get("/dashboards/recsys/", {"from": "2026-11", "to": "2026-11"})
    urls = {card.key: card.value_url for card in response.context["cards"]}
    assert "started_after=2026-11-01T00:00:00Z&started_before=2026-12-01T00:00:00Z" in urls["velocity"]
    assert "documented_after=2025-12-01T00:00:00Z&documented_before=2026-12-01T00:00:00Z" in urls["lessons"]
    assert "due_after=2026-11-01&due_before=2026-12-01" in urls["actions"]


@TIME_ZONES
def test_a_bare_date_typed_in_a_list_is_local_midnight(settings, viewer, team, world, time_zone):
    """People typing dates mean their own day; only the links must not rely on it."""
    settings.TIME_ZONE = time_zone
    def started(query: str) -> set[dt.datetime]:
        response = viewer.get(f"/experiments/?team=recsys&{query}")
        return {experiment.started_at for experiment in response.context["page_obj"]}

    exact = started("started_after=2026-11-01T00:00:00Z&started_before=2026-12-01T00:00:00Z")
    typed = started("started_after=2026-11-01&started_before=2026-12-01")
    assert exact == {NOV_FIRST, NOV_LAST}
    # Paris days start an hour before UTC ones in winter: 23:30 UTC on 31 October is 1 November there.
    assert typed == ({NOV_FIRST, NOV_LAST} if time_zone == "UTC" else {OCT_LAST, NOV_FIRST})
