"""CSV export of the experiments list, with the list's filters (``ExperimentFilter``)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from experiments.filters import ExperimentFilter
from experiments.models import Experiment
from learninghub.kernel.exports import csv_response, invalid_filters_response

HEADER = ["id", "title", "team", "outcome", "failure_kind", "failure_mode", "is_novel", "started_at", "ended_at",
          "builds_on", "repeat_of", "external_id", "error_type", "created_by", "url"]


@require_GET
def experiments_csv(request: HttpRequest) -> HttpResponse:
    queryset = Experiment.objects.select_related("team", "created_by").order_by("-started_at", "-id")
    filterset = ExperimentFilter(request.GET or None, queryset=queryset, request=request)
    if filterset.is_bound and not filterset.is_valid():
        return invalid_filters_response(filterset)
    rows = (
        [e.pk, e.title, e.team.slug, e.outcome, e.failure_kind, e.failure_mode, e.is_novel, e.started_at, e.ended_at,
         e.builds_on_id, e.repeat_of_id, e.external_id, e.error_type, e.created_by.username if e.created_by else "",
         f"{settings.SITE_URL}{e.get_absolute_url()}"]
        for e in filterset.qs.iterator(chunk_size=2000)
    )
    return csv_response(HEADER, rows, "experiments.csv")
