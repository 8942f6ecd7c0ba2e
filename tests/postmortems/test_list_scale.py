"""The post-mortem and action-item lists at scale: a constant number of queries whatever the
rows, counts that never read a whole table, and the urgency order read from its index
(overdue first, then open by due date with undated ones last, then finished ones)."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from postmortems.models import ActionItem, ActionItemStatus
from tests.factories.experiments import LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory

pytestmark = pytest.mark.django_db

LIST = "/postmortems/"
ITEMS = "/postmortems/action-items/"
MINE = "/postmortems/my-action-items/"
API = "/api/v1/postmortems/"
ITEMS_API = "/api/v1/action-items/"


def _fill(team, other_team, member, count: int) -> None:
    for index in range(count):
        postmortem = PostMortemFactory(team=team if index % 2 else other_team, restricted=index % 3 == 0)
        ActionItemFactory.create_batch(2, postmortem=postmortem, owner=member)
        ActionItemFactory(postmortem=postmortem, overdue=True)
        LessonFactory(postmortem=postmortem, experiment=None)


@pytest.mark.parametrize(("url", "queries"), [
    # session, user, may-create check, hidden-by-team note, count, page keys, teams (filter
    # form), the page
    (LIST, 8),
    (f"{LIST}?status=published&page=2", 8),
    (ITEMS, 8),
    (MINE, 7),
    # session, user, count, page keys, the page, action items, lessons, authors
    (API, 8),
    (ITEMS_API, 5),
])
def test_lists_run_a_constant_number_of_queries(member_client, team, other_team, member, url, queries,
                                                django_assert_num_queries):
    _fill(team, other_team, member, 3)
    with django_assert_num_queries(queries):
        assert member_client.get(url).status_code == 200
    _fill(team, other_team, member, 30)
    with django_assert_num_queries(queries):
        assert member_client.get(url).status_code == 200


def test_no_list_counts_a_whole_table(member_client, team, other_team, member):
    _fill(team, other_team, member, 3)
    for url in (LIST, ITEMS, MINE, API, ITEMS_API, f"{ITEMS}?status=open"):
        with CaptureQueriesContext(connection) as captured:
            assert member_client.get(url).status_code == 200
        counts = [q["sql"] for q in captured.captured_queries if re.search(r"\bCOUNT\(\*\)", q["sql"])]
        assert counts and all("LIMIT" in sql for sql in counts), (url, counts)


@pytest.fixture
def urgency_mix(team, member, clock):
    today = timezone.localdate()
    postmortem = PostMortemFactory(team=team)

    def item(name, status, due):
        return ActionItemFactory(postmortem=postmortem, owner=member, description=name, status=status, due_date=due)

    # Created out of order on purpose: the order comes from the query, not the ids.
    return {
        "done early": item("done early", ActionItemStatus.DONE, today - dt.timedelta(days=30)),
        "open undated": item("open undated", ActionItemStatus.OPEN, None),
        "open next week": item("open next week", ActionItemStatus.OPEN, today + dt.timedelta(days=7)),
        "overdue a week": item("overdue a week", ActionItemStatus.IN_PROGRESS, today - dt.timedelta(days=7)),
        "open today": item("open today", ActionItemStatus.OPEN, today),
        "overdue a month": item("overdue a month", ActionItemStatus.OPEN, today - dt.timedelta(days=30)),
        "won't do": item("won't do", ActionItemStatus.WONT_DO, today + dt.timedelta(days=1)),
        "done undated": item("done undated", ActionItemStatus.DONE, None),
    }


URGENCY_ORDER = ["overdue a month", "overdue a week", "open today", "open next week", "open undated",
                 "done early", "won't do", "done undated"]


def test_action_items_come_in_urgency_order(member_client, member_api, urgency_mix):
    page = member_client.get(ITEMS).context["page_obj"]
    assert [item.description for item in page.object_list] == URGENCY_ORDER
    assert [row["description"] for row in member_api.get(ITEMS_API).json()["results"]] == URGENCY_ORDER
    mine = member_client.get(MINE, {"show": "all"}).context["page_obj"]
    assert [item.description for item in mine.object_list] == URGENCY_ORDER


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_the_urgency_order_is_read_from_its_index(urgency_mix):
    """The ORDER BY matches the ``action_item_urgency`` expression index exactly (forced off the
    table scan and the sort a tiny table would get, the planner must use it)."""
    sql, params = ActionItem.objects.by_urgency().values("pk")[:25].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "action_item_urgency" in plan and "Sort" not in plan, plan
