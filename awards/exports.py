"""CSV export of award results (one row per winner) for the cycles the cycle list shows,
with its filters (``CycleFilter``: state, year)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from awards.filters import CycleFilter
from awards.models import Award, AwardCycle
from learninghub.kernel.exports import csv_response, invalid_filters_response

HEADER = ["cycle", "category", "winner", "winner_name", "votes", "cycle_state", "url"]


@require_GET
def award_results_csv(request: HttpRequest) -> HttpResponse:
    filterset = CycleFilter(request.GET or None, queryset=AwardCycle.objects.all())
    if filterset.is_bound and not filterset.is_valid():
        return invalid_filters_response(filterset)
    awards = (Award.objects.filter(cycle__in=filterset.qs.values("pk")).select_related("cycle", "category", "winner")
              .order_by("-cycle__month", "category__position", "category__name", "winner__username"))
    rows = (
        [a.cycle.label, a.category.name, a.winner.username, a.winner.get_full_name(), a.votes, a.cycle.state,
         f"{settings.SITE_URL}{a.cycle.get_absolute_url()}"]
        for a in awards.iterator(chunk_size=2000)
    )
    return csv_response(HEADER, rows, "award-results.csv")
