"""CSV exports of the post-mortems and action-items lists, with the lists' filters."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from learninghub.kernel.exports import csv_response, invalid_filters_response
from postmortems.filters import ActionItemFilter, PostMortemFilter
from postmortems.models import ActionItem, PostMortem

POSTMORTEM_HEADER = ["id", "title", "team", "severity", "status", "failure_mode", "occurred_at", "detected_at",
                     "resolved_at", "production_impact", "restricted", "repeat_of", "experiment", "url"]
ACTION_ITEM_HEADER = ["id", "description", "postmortem", "postmortem_title", "team", "owner", "due_date", "status",
                      "completed_at", "lesson", "url"]


@require_GET
def postmortems_csv(request: HttpRequest) -> HttpResponse:
    queryset = PostMortem.objects.visible_to(request.user).select_related("team").order_by("-occurred_at", "-id")
    filterset = PostMortemFilter(request.GET or None, queryset=queryset, request=request)
    if filterset.is_bound and not filterset.is_valid():
        return invalid_filters_response(filterset)
    rows = (
        [p.pk, p.title, p.team.slug, p.severity, p.status, p.failure_mode, p.occurred_at, p.detected_at,
         p.resolved_at, p.production_impact, p.restricted, p.repeat_of_id, p.experiment_id,
         f"{settings.SITE_URL}{p.get_absolute_url()}"]
        for p in filterset.qs.iterator(chunk_size=2000)
    )
    return csv_response(POSTMORTEM_HEADER, rows, "postmortems.csv")


@require_GET
def action_items_csv(request: HttpRequest) -> HttpResponse:
    queryset = (ActionItem.objects.visible_to(request.user).select_related("postmortem__team", "owner")
                .order_by("due_date", "pk"))
    filterset = ActionItemFilter(request.GET or None, queryset=queryset, request=request)
    if filterset.is_bound and not filterset.is_valid():
        return invalid_filters_response(filterset)
    rows = (
        [i.pk, i.description, i.postmortem_id, i.postmortem.title, i.postmortem.team.slug,
         i.owner.username if i.owner else "", i.due_date, i.status, i.completed_at, i.lesson_id,
         f"{settings.SITE_URL}{i.get_absolute_url()}"]
        for i in filterset.qs.iterator(chunk_size=2000)
    )
    return csv_response(ACTION_ITEM_HEADER, rows, "action-items.csv")
