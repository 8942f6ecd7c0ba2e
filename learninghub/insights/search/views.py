"""The search page: one box over experiments, post-mortems, lessons and action items; and what
the forms fetch while a person types: the "have we tried this before?" fragment and the
type-ahead pickers' JSON."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from experiments.models import Outcome
from learninghub.insights.search.forms import SearchForm
from learninghub.insights.search.models import DocumentKind
from learninghub.insights.search.query import MAX_QUERY_LENGTH
from learninghub.insights.search.selectors import SearchResults, search
from learninghub.insights.search.similar import pick_people, pick_records, similar_records
from learninghub.kernel.models import Team

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


# --- While a form is being filled in -------------------------------------------------------------

# The fields each form sends, title first (its words count most); longer text is cut, not refused.
SIMILAR_FIELDS = {"experiment": ("title", "hypothesis", "approach"),
                  "postmortem": ("title", "what_happened", "root_cause")}
MAX_FIELD_LENGTH = 2000
PICK_KINDS = {"experiment": DocumentKind.EXPERIMENT, "postmortem": DocumentKind.POSTMORTEM, "user": "user"}


def _positive_int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and 0 < len(value) < 19 else None


def _team(params: QueryDict) -> Team | None:
    """The team named by ``team`` (a slug) or ``team_id``; None when absent or unknown."""
    team_id = _positive_int(params.get("team_id"))
    if team_id is not None:
        return Team.objects.filter(pk=team_id).first()
    slug = params.get("team", "").strip()
    return Team.objects.filter(slug=slug[:100]).first() if slug else None


@require_GET
def similar(request: HttpRequest) -> HttpResponse:
    """``?kind=experiment|postmortem&team=<slug>&exclude=<id>&title=…&hypothesis=…``: the closest
    earlier records of the team and of the organisation, with their outcome and lessons."""
    kind = request.GET.get("kind", "")
    if kind not in SIMILAR_FIELDS:
        return HttpResponseBadRequest("kind must be experiment or postmortem", content_type="text/plain")
    exclude = _positive_int(request.GET.get("exclude"))
    found = similar_records(user=request.user, team=_team(request.GET),
                            texts=[request.GET.get(name, "")[:MAX_FIELD_LENGTH] for name in SIMILAR_FIELDS[kind]],
                            exclude=(kind, exclude) if exclude else None)
    return render(request, "search/_similar.html", {"similar": found, "form_kind": kind})


@require_GET
def pick(request: HttpRequest) -> JsonResponse:
    """``?kind=experiment|postmortem|user&q=…&team=<slug>|team_id=<id>&outcome=…&exclude=<id>``:
    what a type-ahead picker offers, visible to the user, as ``{"results": [{id, label, team,
    outcome, url}]}``."""
    kind = PICK_KINDS.get(request.GET.get("kind", ""))
    outcome = request.GET.get("outcome", "")
    if kind is None or (outcome and outcome not in Outcome.values):
        return JsonResponse({"error": "kind must be experiment, postmortem or user; outcome one of "
                                      + ", ".join(Outcome.values)}, status=400)
    query = request.GET.get("q", "")[:MAX_QUERY_LENGTH]
    team = _team(request.GET)
    if kind == "user":
        picks = pick_people(user=request.user, query=query, team=team)
    else:
        picks = pick_records(user=request.user, kind=kind, query=query, team=team, outcome=outcome,
                             exclude=_positive_int(request.GET.get("exclude")))
    return JsonResponse({"results": [item.as_dict() for item in picks]})
