"""Kernel pages: health, plotly.js, profile with API tokens, teams, CSP violation reports."""

from __future__ import annotations

import json
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from learninghub.kernel.charts import plotly_js as plotly_js_bundle
from learninghub.kernel.forms import ApiTokenForm
from learninghub.kernel.health import health_report
from learninghub.kernel.models import ApiToken, Membership, Team


@login_not_required
@require_GET
def plotly_js(request: HttpRequest, version: str) -> HttpResponse:
    """plotly.js from the installed plotly package: no CDN, cached for a year under its hash."""
    content, current_version = plotly_js_bundle()
    if version != current_version:
        return redirect("plotly-js", current_version, permanent=False)
    response = HttpResponse(content, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report, healthy = health_report()
    return JsonResponse({"status": "ok" if healthy else "error", **report}, status=200 if healthy else 503)


def team_list(request: HttpRequest) -> HttpResponse:
    teams = Team.objects.with_member_counts()
    my_team_ids = set(Membership.objects.filter(user=request.user).values_list("team_id", flat=True))
    return render(request, "learninghub/team_list.html", {"teams": teams, "my_team_ids": my_team_ids})


def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(Team.objects.with_member_counts(), slug=slug)
    memberships = team.memberships.select_related("user").order_by("-role", "user__username")
    return render(request, "learninghub/team_detail.html", {"team": team, "memberships": memberships})


NEW_TOKEN_SESSION_KEY = "profile_new_token_key"


def profile(request: HttpRequest) -> HttpResponse:
    """The viewer's teams and API tokens. Creating a token is POST-redirect-GET: the raw key rides
    in the session to the next page view, is shown there once and forgotten, so a reload neither
    creates a second token nor shows the key again."""
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _token, new_key = ApiToken.issue(user=request.user, name=form.cleaned_data["name"])
        request.session[NEW_TOKEN_SESSION_KEY] = new_key
        messages.success(request, "Token created. Copy it now: it will not be shown again.")
        return redirect("profile")
    context = {
        "form": form,
        "new_key": request.session.pop(NEW_TOKEN_SESSION_KEY, None) if request.method == "GET" else None,
        "tokens": request.user.api_tokens.all(),
        "memberships": request.user.memberships.select_related("team"),
    }
    return render(request, "learninghub/profile.html", context)


@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke()
    messages.success(request, f"Token “{token.name}” ({token.prefix}…) revoked.")
    return redirect("profile")


csp_logger = logging.getLogger("learninghub.csp")
CSP_REPORT_MAX_BYTES = 16_384


@login_not_required
@csrf_exempt
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    """Where browsers report Content-Security-Policy violations (``report-uri``): logged, 204."""
    raw = request.body[:CSP_REPORT_MAX_BYTES]
    try:
        report = json.loads(raw)
    except ValueError:
        report = raw.decode("utf-8", "replace")
    if isinstance(report, dict):
        report = report.get("csp-report", report)
    csp_logger.warning("CSP violation: %s", json.dumps(report, default=str)[:4000])
    return HttpResponse(status=204)
