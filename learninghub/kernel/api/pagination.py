"""Pagination for the list pages and the API that stays cheap at millions of rows.

:class:`ListPaginator` never counts a whole large table: it counts the matching rows only as
far as it needs — :data:`COUNT_CAP` rows, or through the requested page and one row more —
with ``SELECT COUNT(*) FROM (… LIMIT n)``. Below that the count is exact; above it, the count
is PostgreSQL's planner estimate (never less than the rows counted; an exact count on other
databases, which hold small installations) and ``count_is_exact`` is False. Whether a page
exists and whether there is a next one are always exact, so ``next`` links and deep pages work.

:class:`StandardPagination` is the API's page-number pagination on top of it, with bounded
integers: ``page`` is 1 to :data:`MAX_PAGE` (or ``last``, which counts exactly) and a page past
the end is a 404 JSON; ``page_size`` is capped at ``max_page_size`` (anything that is not a
positive whole number falls back to the default, as in DRF). The response keeps DRF's shape
(``count``, ``next``, ``previous``, ``results``).
"""

from __future__ import annotations

import contextlib
import json
import re
from functools import cached_property

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import F, OrderBy, QuerySet
from django.db.models.functions import Coalesce
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

MAX_PAGE = 10**9
PAGE_NUMBER = re.compile(r"^\s*\d{1,10}\s*$")
#: Rows counted exactly before the count becomes an estimate.
COUNT_CAP = 10_000
#: At most this many matching rows (an exact count), a page's keys are sorted after filtering.
FEW_ROWS = 2_000


def count_up_to(queryset: QuerySet, limit: int) -> int:
    """How many rows ``queryset`` has, counting no further than ``limit``."""
    return queryset.order_by().values("pk")[:limit].count()


def estimated_count(queryset: QuerySet) -> int:
    """The planner's row estimate on PostgreSQL (no rows read); an exact count elsewhere."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count()
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def sorted_after_filtering(queryset: QuerySet) -> QuerySet:
    """``queryset`` in the same order, but sorted by expressions no index provides, so the
    database finds the matching rows first (their own indexes: a search, an owner, a rare filter)
    and sorts those, instead of walking the list's ordering index until a page is full — which,
    when the planner overestimates how many rows match, means walking all of a large table for a
    few matches. Only for results known to be small (``ListPaginator`` below :data:`FEW_ROWS`).
    """
    query = queryset.query
    ordering = list(query.order_by or (queryset.model._meta.ordering if query.default_ordering else []))
    wrapped = []
    for item in ordering:
        if isinstance(item, str):
            if item == "?":
                return queryset
            name = item.lstrip("-")
            field = F(queryset.model._meta.pk.name if name == "pk" else name)
            wrapped.append(OrderBy(Coalesce(field, field), descending=item.startswith("-")))
        elif isinstance(item, OrderBy):
            wrapped.append(OrderBy(Coalesce(item.expression, item.expression), descending=item.descending,
                                   nulls_first=item.nulls_first, nulls_last=item.nulls_last))
        else:
            wrapped.append(OrderBy(Coalesce(item, item)))
    return queryset.order_by(*wrapped) if wrapped else queryset


def _is_plain_queryset(object_list) -> bool:
    """A QuerySet that can be filtered and counted by its keys (not a list, not a UNION)."""
    return isinstance(object_list, QuerySet) and not object_list.query.combinator


class ListPaginator(Paginator):
    """A Django paginator whose count reads at most :data:`COUNT_CAP` rows (or through the
    requested page); see the module docstring."""

    count_is_exact = True

    def __init__(self, *args, exact: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exact = exact
        self._wanted_page = 1

    def validate_number(self, number):
        # The page asked for decides how far the count must go; the count runs once, here.
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            self._wanted_page = max(self._wanted_page, min(int(number), MAX_PAGE))
        return super().validate_number(number)

    def page(self, number):
        """The page's rows in two steps: its primary keys (read from the index that sorts the
        list, however deep the page; for a few matching rows, sorted after filtering), then those
        rows with their joins and per-row subqueries, which a plain OFFSET would compute for every
        skipped row too."""
        page = super().page(number)
        if _is_plain_queryset(self.object_list):
            rows = self.object_list
            if self.count_is_exact and self.count <= FEW_ROWS:
                rows = sorted_after_filtering(rows)
            bounds = page.object_list.query  # Django's slice of the page (orphans included)
            keys = list(rows.values_list("pk", flat=True)[bounds.low_mark:bounds.high_mark])
            page.object_list = self.object_list.filter(pk__in=keys)
        return page

    @cached_property
    def count(self) -> int:
        if not _is_plain_queryset(self.object_list) or self.exact:
            return super().count
        through = max(COUNT_CAP, self._wanted_page * self.per_page + 1)
        counted = count_up_to(self.object_list, through)
        if counted < through:
            return counted
        self.count_is_exact = False
        return max(counted, estimated_count(self.object_list))


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = ListPaginator

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param) or "1"
        if raw in self.last_page_strings:
            paginator.exact = True  # the last page needs the true count
            return paginator.num_pages
        if not PAGE_NUMBER.match(raw) or not 1 <= int(raw) <= MAX_PAGE:
            raise NotFound(f"Invalid page: give a whole number from 1 to {MAX_PAGE} (or “last”).")
        return int(raw)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"]["description"] = (
            f"How many records match: exact up to {COUNT_CAP:,}, an estimate beyond (`next` is always exact).")
        return response
