"""The search page: one box over experiments, post-mortems, lessons and action items."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from learninghub.insights.search.forms import SearchForm
from learninghub.insights.search.selectors import SearchResults, search

FACET_LABELS = {"kind": "Type", "team": "Team", "outcome": "Outcome", "failure_mode": "Failure mode",
                "period": "Month"}


def _facet_groups(results: SearchResults, params: QueryDict) -> list[dict]:
    """Each facet value with the link that selects it (or clears it when selected)."""
    groups = []
    for name, values in results.facets.items():
        links = []
        for value in values:
            query = params.copy()
            query.pop("page", None)
            if value.selected:
                query.pop(name, None)
            else:
                query[name] = value.value
            links.append({"value": value, "href": "?" + query.urlencode()})
        if links:
            groups.append({"name": name, "label": FACET_LABELS[name], "links": links})
    return groups


def search_page(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results = None
    status = 200
    if request.GET:
        if form.is_valid():
            results = search(user=request.user, query=form.cleaned_data["q"], filters=form.search_filters(),
                             page=request.GET.get("page"))
        else:
            status = 400
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "results": results,
        "page_obj": results.page if results else None,
        "facet_groups": _facet_groups(results, request.GET) if results else [],
        "querystring_without_page": params.urlencode(),
    }
    return render(request, "search/search.html", context, status=status)
