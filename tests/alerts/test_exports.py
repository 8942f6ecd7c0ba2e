"""Streaming CSV exports of the lists, with the lists' current filters."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.http import StreamingHttpResponse

from tests.factories import UserFactory
from tests.factories.awards import AwardCategoryFactory, AwardCycleFactory, AwardFactory
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def listed_ids(response) -> list[int]:
    return [row.pk for row in response.context["page_obj"].object_list]


def test_experiments_csv_round_trips_the_filtered_list(team, other_team, member_client):
    ExperimentFactory.create_batch(3, team=team, failed=True)
    ExperimentFactory(team=team, succeeded=True)
    ExperimentFactory(team=other_team, failed=True)
    ExperimentFactory(team=team, failed=True, title="=HYPERLINK(\"http://evil\")")
    filters = {"team": team.slug, "outcome": "failure"}
    page = member_client.get("/experiments/", filters)
    rows = read_csv(member_client.get("/experiments/export.csv", filters))
    assert [int(row["id"]) for row in rows] == listed_ids(page)
    assert len(rows) == 4 and {row["team"] for row in rows} == {team.slug}
    assert rows[0]["title"].startswith("'=")  # a formula is neutralised for spreadsheets
    assert rows[0]["url"].endswith(f"/experiments/{rows[0]['id']}/")


def test_the_list_page_links_its_export_with_the_filters(member_client, team):
    page = member_client.get("/experiments/", {"team": team.slug, "outcome": "failure"})
    assert b'/experiments/export.csv?team=recsys&amp;outcome=failure' in page.content


def test_invalid_filters_are_a_400_not_the_wrong_rows(member_client):
    response = member_client.get("/experiments/export.csv", {"team": "no-such-team"})
    assert response.status_code == 400
    assert b"team" in response.content


def test_postmortems_csv_round_trips_and_hides_restricted_ones(team, other_team, outsider, client):
    PostMortemFactory(team=team, severity="sev1")
    PostMortemFactory(team=team, severity="sev1", secret=True)
    PostMortemFactory(team=team, severity="sev2")
    PostMortemFactory(team=other_team, severity="sev1")
    client.force_login(outsider)
    filters = {"severity": "sev1"}
    rows = read_csv(client.get("/postmortems/export.csv", filters))
    assert [int(row["id"]) for row in rows] == listed_ids(client.get("/postmortems/", filters))
    assert len(rows) == 2 and all(row["restricted"] == "false" for row in rows)


def test_action_items_csv_round_trips_the_filtered_list(team, member, member_client):
    postmortem = PostMortemFactory(team=team)
    ActionItemFactory.create_batch(2, postmortem=postmortem, owner=member, overdue=True)
    ActionItemFactory(postmortem=postmortem, owner=member)
    filters = {"overdue": "true"}
    rows = read_csv(member_client.get("/postmortems/action-items/export.csv", filters))
    assert sorted(int(row["id"]) for row in rows) == sorted(listed_ids(member_client.get("/postmortems/action-items/",
                                                                                           filters)))
    assert len(rows) == 2 and {row["owner"] for row in rows} == {member.username}


def test_award_results_csv_follows_the_cycle_filters(member_client):
    category = AwardCategoryFactory(name="Fast Fail")
    winner = UserFactory(username="wendy")
    closed = AwardCycleFactory(month=dt.date(2026, 9, 1), state="closed")
    other_year = AwardCycleFactory(month=dt.date(2025, 9, 1), state="closed")
    AwardFactory(cycle=closed, category=category, winner=winner, votes=4)
    AwardFactory(cycle=other_year, category=category, winner=winner, votes=2)
    rows = read_csv(member_client.get("/awards/cycles/export.csv", {"year": 2026}))
    assert [(row["cycle"], row["category"], row["winner"], row["votes"]) for row in rows] == [
        ("2026-09", "Fast Fail", "wendy", "4")]


def test_a_large_export_streams(team, member_client, django_assert_max_num_queries):
    ExperimentFactory.create_batch(30, team=team)
    response = member_client.get("/experiments/export.csv")
    assert isinstance(response, StreamingHttpResponse)
    with django_assert_max_num_queries(3):  # rows are read in chunks by one server-side iterator
        assert sum(1 for _ in response.streaming_content) == 31
