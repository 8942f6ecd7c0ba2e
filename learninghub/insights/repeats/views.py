"""The review queue: leads confirm or reject suspected repeats; members undo automatic links."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from learninghub.insights.repeats import selectors, services
from learninghub.insights.repeats.models import RepeatCandidate
from learninghub.kernel.models import Team

ACTIONS = {
    "confirm": (services.confirm_candidate, "Confirmed: the failure is now marked as a repeat."),
    "reject": (services.reject_candidate, "Rejected: the suggestion is closed and nothing was linked."),
    "undo": (services.undo_automatic_link, "Undone: the automatic link was removed."),
}


def review_queue(request: HttpRequest) -> HttpResponse:
    view = request.GET.get("view", "pending")
    if view not in selectors.QUEUE_VIEWS:
        view = "pending"
    team = Team.objects.filter(slug=request.GET.get("team", "")).first()
    candidates = selectors.review_queue(view=view, team_id=team.pk if team else None, user=request.user)
    page_obj = Paginator(candidates, 20).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page_obj": page_obj,
        "rows": selectors.queue_rows(page_obj.object_list, user=request.user),
        "note_length": services.NOTE_LENGTH,
        "view": view,
        "team": team,
        "teams": Team.objects.all(),
        "querystring_without_page": query.urlencode(),
        "stats": selectors.overturn_stats(team.pk if team else None),
        "views": [("pending", "Waiting for review"), ("automatic", "Automatic links"), ("decided", "Decisions")],
    }
    return render(request, "repeats/review_queue.html", context)


@require_POST
def decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    candidate = get_object_or_404(RepeatCandidate.objects.select_related("team"), pk=pk)
    if action not in ACTIONS:
        return redirect("repeats:queue")
    service, success_message = ACTIONS[action]
    try:
        service(candidate=candidate, user=request.user, note=request.POST.get("note", ""))
        messages.success(request, success_message)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    next_url = request.POST.get("next", "")
    if next_url.startswith("/") and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return HttpResponseRedirect(next_url)
    return redirect("repeats:queue")  # only back to a page of this site, never elsewhere
