"""GET /api/v1/search/?q=: the search page's results as JSON (same selector, same ranking)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from learninghub.insights.search.api.serializers import SearchResponseSerializer
from learninghub.insights.search.forms import SearchParamsSerializer
from learninghub.insights.search.selectors import search


class SearchView(APIView):
    """Ranked search over the experiments, post-mortems, lessons and action items you may see,
    with highlighted snippets and facet counts (each facet counts under the other filters).
    An empty query, or one of operators only, has no results; a query over the length limit is a
    400 with a message on ``q``."""

    @extend_schema(parameters=[SearchParamsSerializer], responses=SearchResponseSerializer)
    def get(self, request: Request) -> Response:
        params = SearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        results = search(user=request.user, query=data["q"], filters=params.search_filters(), page=data["page"],
                         page_size=data["page_size"])
        page = results.page
        url = request.build_absolute_uri()

        def link(number: int | None) -> str | None:
            if number is None:
                return None
            return remove_query_param(url, "page") if number == 1 else replace_query_param(url, "page", number)

        body = {
            "query": results.query.text,
            "count": results.total,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "next": link(page.next_page_number() if page.has_next() else None),
            "previous": link(page.previous_page_number() if page.has_previous() else None),
            "results": results.hits,
            "facets": results.facets,
        }
        return Response(SearchResponseSerializer(body).data)
