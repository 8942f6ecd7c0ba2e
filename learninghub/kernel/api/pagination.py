"""Page-number pagination with bounded integers: ``page`` is 1 to :data:`MAX_PAGE` (or ``last``)
and a page past the end is a 404 JSON; ``page_size`` is capped at ``max_page_size`` (anything
that is not a positive whole number falls back to the default, as in DRF)."""

from __future__ import annotations

import re

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

MAX_PAGE = 10**9
PAGE_NUMBER = re.compile(r"^\s*\d{1,10}\s*$")


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param) or "1"
        if raw in self.last_page_strings:
            return paginator.num_pages
        if not PAGE_NUMBER.match(raw) or not 1 <= int(raw) <= MAX_PAGE:
            raise NotFound(f"Invalid page: give a whole number from 1 to {MAX_PAGE} (or “last”).")
        return int(raw)
