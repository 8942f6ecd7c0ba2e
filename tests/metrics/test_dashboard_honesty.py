"""Dashboards say what is true: they open on the last complete month with the month in
progress beside it marked partial, show no change against a month with nothing recorded, every
drill-down list says how many restricted records it leaves out and whose, a figure made of
records in two lists opens both, and the month inputs show the months displayed."""

import datetime as dt
from urllib.parse import urlsplit

import pytest

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.links import DrillDown
from learninghub.kernel.periods import Month
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.metrics.conftest import at, make_lesson

pytestmark = pytest.mark.django_db

FIRST_OF_DECEMBER = dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)
MID_NOVEMBER = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("now", "shown", "in_progress"), [
    (FIRST_OF_DECEMBER, "November 2026", "December 2026"),
    (MID_NOVEMBER, "October 2026", "November 2026"),
])
def test_dashboards_open_on_the_last_complete_month_with_the_one_in_progress_beside_it(
        member_client, team, clock, now, shown, in_progress):
    clock.move_to(now)
    ExperimentFactory(team=team, started_at=now - dt.timedelta(minutes=10))
    home = member_client.get("/")
    assert home.context["month_label"] == shown and not home.context["partial"]
    assert home.context["in_progress"]["label"] == in_progress
    text = home.content.decode()
    assert f"The organisation in {shown}" in text
    assert f"{in_progress} so far" in text and ">partial</span>" in text

    dashboard = member_client.get("/dashboards/recsys/")
    assert dashboard.context["last_label"] == shown and not dashboard.context["partial"]
    assert dashboard.context["months"][-1] == Month.last_complete()
    assert dashboard.context["in_progress"]["label"] == in_progress
    partial = {card.key: card for card in dashboard.context["in_progress"]["cards"]}
    assert partial["velocity"].lines[0][0][0] == "1 experiment", "the month in progress has its figures so far"
    assert all(card.delta is None for card in partial.values()), "a partial month is not compared"


@pytest.mark.clock(MID_NOVEMBER)
def test_choosing_the_month_in_progress_marks_it_partial(member_client, team, clock):
    response = member_client.get("/", {"month": "2026-11"})
    assert response.context["partial"] and response.context["in_progress"] is None
    assert "November 2026 (partial)" in response.content.decode()


@pytest.mark.clock(MID_NOVEMBER)
def test_no_change_from_last_month_is_shown_for_a_month_with_nothing_recorded(member_client, team, lesson_source,
                                                                              clock):
    make_lesson(team, lesson_source, at(2026, 3, 1), applied_at=at(2026, 9, 25))
    response = member_client.get("/dashboards/recsys/", {"from": "2026-06", "to": "2026-10"})
    assert response.context["cards"], "the lesson window alone gives October a score"
    assert all(card.delta is None for card in response.context["cards"])
    assert "vs last month" not in response.content.decode()

    ExperimentFactory(team=team, started_at=at(2026, 10, 5))
    response = member_client.get("/dashboards/recsys/", {"from": "2026-06", "to": "2026-10"})
    assert all(card.delta is None for card in response.context["cards"]), "September had nothing recorded"


@pytest.mark.clock(MID_NOVEMBER)
def test_a_change_is_shown_between_two_months_with_records(member_client, team, clock):
    ExperimentFactory(team=team, started_at=at(2026, 9, 5))
    for day in (5, 6, 7):
        ExperimentFactory(team=team, started_at=at(2026, 10, day))
    response = member_client.get("/dashboards/recsys/", {"from": "2026-06", "to": "2026-10"})
    cards = {card.key: card for card in response.context["cards"]}
    assert cards["velocity"].delta is not None and cards["velocity"].delta.css == "good"
    assert "vs last month" in response.content.decode()


@pytest.fixture
def hidden_november(other_team):
    """Data Platform in November 2025: two post-mortems, one restricted, each with an action item."""
    november = Month(2025, 11)
    shown = PostMortemFactory(team=other_team, occurred_at=at(2025, 11, 10), title="Visible outage")
    secret = PostMortemFactory(team=other_team, occurred_at=at(2025, 11, 12), title="Secret outage", secret=True)
    for postmortem in (shown, secret):
        ActionItemFactory(postmortem=postmortem, due_date=dt.date(2025, 11, 20), status="open")
        LessonFactory(team=other_team, experiment=None, postmortem=postmortem, documented_at=at(2025, 11, 14),
                      text=f"What {postmortem.title} taught")
    engine.recompute(Month.range(november.shift(-1), november))
    return november


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_drill_down_lists_say_how_many_restricted_records_they_leave_out_and_whose(
        member_client, other_team, hidden_november):
    """``member_client`` is not in Data Platform: the figures count its restricted post-mortem,
    the lists can't show it, and the note makes them reconcile."""
    dashboard = member_client.get("/dashboards/data-platform/", {"from": "2025-06", "to": "2025-11"})
    row = dashboard.context["rows"][0]
    cells = {cell.title: cell for cell in row["cells"]}
    postmortems_figure = int(cells["Post-mortems"].text)
    items_figure = int(cells["Action items done on time / due"].text.split(" / ")[1])
    assert (postmortems_figure, items_figure) == (2, 2)

    drill = DrillDown(other_team.slug)
    postmortems = member_client.get(_path(drill.postmortems_occurred(hidden_november)))
    text = postmortems.content.decode()
    assert "1 restricted record of Data Platform not shown" in text and "Secret outage" not in text
    listed = len(postmortems.context["page_obj"].object_list)
    assert listed + sum(count for _, count in postmortems.context["hidden"]) == postmortems_figure

    items = member_client.get(_path(drill.action_items_due(hidden_november)))
    assert "1 restricted record of Data Platform not shown" in items.content.decode()
    listed = len(items.context["page_obj"].object_list)
    assert listed + sum(count for _, count in items.context["hidden"]) == items_figure


def test_members_of_the_team_see_every_record_and_no_note(client, other_team, outsider, hidden_november):
    client.force_login(outsider)
    response = client.get(_path(DrillDown(other_team.slug).postmortems_occurred(hidden_november)))
    assert response.context["hidden"] == [] and "restricted record" not in response.content.decode()
    assert len(response.context["page_obj"].object_list) == 2


def test_a_free_text_search_counts_no_restricted_records(member_client, other_team, hidden_november):
    """Matching a restricted record's text would tell what it says: a search shows no note."""
    response = member_client.get("/postmortems/", {"team": other_team.slug, "search": "outage"})
    assert response.context["hidden"] == [] and "restricted record" not in response.content.decode()


def test_the_lessons_library_says_how_many_restricted_lessons_it_leaves_out(member_client, other_team,
                                                                            hidden_november):
    """The lesson figures count the lesson of the restricted post-mortem; its library list can't
    show it to someone outside Data Platform, and says so: rows + the note = the figure."""
    dashboard = member_client.get("/dashboards/data-platform/", {"from": "2025-06", "to": "2025-11"})
    cells = {cell.title: cell for cell in dashboard.context["rows"][0]["cells"]}
    in_window = int(cells["Lessons applied / in the 365-day window"].text.split(" / ")[1])
    assert in_window == 2

    lessons = member_client.get(_path(DrillDown(other_team.slug).lessons_in_window(hidden_november)))
    text = lessons.content.decode()
    assert "1 restricted record of Data Platform not shown" in text
    assert "What Visible outage taught" in text and "What Secret outage taught" not in text
    listed = len(lessons.context["page_obj"].object_list)
    assert listed + sum(count for _, count in lessons.context["hidden"]) == in_window


def test_the_lessons_library_shows_members_everything_and_searches_count_nothing_hidden(
        client, member_client, other_team, outsider, hidden_november):
    search = member_client.get("/experiments/lessons/", {"team": other_team.slug, "search": "taught"})
    assert search.context["hidden"] == [] and "restricted record" not in search.content.decode()
    invalid = member_client.get("/experiments/lessons/", {"documented_after": "not a date"})
    assert invalid.status_code == 200 and invalid.context["hidden"] == []

    client.force_login(outsider)  # a member of Data Platform
    response = client.get("/experiments/lessons/", {"team": other_team.slug})
    assert response.context["hidden"] == [] and "restricted record" not in response.content.decode()
    assert len(response.context["page_obj"].object_list) == 2


@pytest.mark.clock(MID_NOVEMBER)
def test_repeats_made_of_experiments_and_post_mortems_open_both_lists(member_client, team, clock):
    """"Repeats 2 of 3" counts a failed experiment and a post-mortem: one list can't show both,
    so the teams table (and the monthly table) link each list, and together they hold every repeat."""
    first = ExperimentFactory(team=team, failed=True, started_at=at(2026, 9, 2), title="First try")
    ExperimentFactory(team=team, failed=True, started_at=at(2026, 10, 2), repeat_of=first, title="Tried again")
    ExperimentFactory(team=team, failed=True, started_at=at(2026, 10, 3), title="Something new")
    outage = PostMortemFactory(team=team, occurred_at=at(2026, 9, 10), title="First outage")
    PostMortemFactory(team=team, occurred_at=at(2026, 10, 10), repeat_of=outage, title="Outage again")

    home = member_client.get("/")
    row = next(row for row in home.context["team_rows"] if row["team"] == team)
    repeats = next(cell for cell in row["cells"] if cell.title == "Repeat failures of all failures")
    assert repeats.text == "2 of 3" and repeats.url is None
    assert [text for text, _url in repeats.links] == ["1 experiment", "1 post-mortem"]
    opened = [member_client.get(_path(url)) for _text, url in repeats.links]
    assert sum(len(page.context["page_obj"].object_list) for page in opened) == 2
    assert "Tried again" in opened[0].content.decode() and "Outage again" in opened[1].content.decode()
    text = home.content.decode()
    for _text, url in repeats.links:
        assert f'href="{url.replace("&", "&amp;")}"' in text

    dashboard = member_client.get("/dashboards/recsys/")
    october = dashboard.context["rows"][0]
    month_repeats = next(cell for cell in october["cells"] if cell.title.startswith("Repeat failures:"))
    assert [url for _text, url in month_repeats.links] == [url for _text, url in repeats.links]


@pytest.mark.clock(MID_NOVEMBER)
def test_the_month_inputs_show_the_months_displayed(member_client, team, clock):
    def value(response, name: str) -> str:
        return response.context["form"][name].value()

    home = member_client.get("/")
    assert value(home, "month") == "2026-10" and 'value="2026-10"' in home.content.decode()
    assert value(member_client.get("/", {"month": "2026-03"}), "month") == "2026-03"

    dashboard = member_client.get("/dashboards/recsys/")
    assert (value(dashboard, "from"), value(dashboard, "to")) == ("2025-11", "2026-10")
    text = dashboard.content.decode()
    assert 'value="2025-11"' in text and 'value="2026-10"' in text
    only_end = member_client.get("/dashboards/recsys/", {"to": "2026-05"})
    assert (value(only_end, "from"), value(only_end, "to")) == ("2025-06", "2026-05")

    invalid = member_client.get("/dashboards/recsys/", {"from": "garbage"})
    assert invalid.context["form"].errors and value(invalid, "from") == "garbage", "kept as typed, with its error"


def test_past_the_count_cap_the_note_says_more_than_without_counting_every_hidden_row(
        member_client, other_team, hidden_november, monkeypatch):
    """An unfiltered list of a large organisation stops counting hidden rows at the cap."""
    from learninghub.kernel import policy

    monkeypatch.setattr(policy, "HIDDEN_COUNT_CAP", 1)
    PostMortemFactory(team=other_team, occurred_at=at(2025, 11, 13), secret=True)
    response = member_client.get("/postmortems/")
    assert response.context["hidden"] == [(None, 1)]
    assert "More than 1 restricted records of other teams not shown" in response.content.decode()
    # At the cap exactly, the note still counts by team.
    monkeypatch.setattr(policy, "HIDDEN_COUNT_CAP", 2)
    assert member_client.get("/postmortems/").context["hidden"] == [("Data Platform", 2)]
