"""Alert pages: a team's alert settings, my subscriptions (with "send test"), recent
notifications, and the iCalendar feed of a person's action items."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from learninghub.insights.alerts import feeds, selectors, services
from learninghub.insights.alerts.forms import SubscriptionForm, ThresholdsForm
from learninghub.insights.alerts.models import CalendarFeed, NotificationStatus, Subscription
from learninghub.kernel.models import Team
from learninghub.kernel.policy import can_lead, lead_team_ids_for


def _apply_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def team_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """Everyone in the team sees the thresholds; leads change them and the team's channels."""
    team = get_object_or_404(Team, slug=slug)
    is_lead = can_lead(request.user, team)
    rules = services.rules_for(team)
    form = ThresholdsForm(request.POST if request.method == "POST" and "thresholds" in request.POST else None,
                          rules=rules)
    channel_form = SubscriptionForm(request.POST if request.method == "POST" and "channel" in request.POST else None,
                                    prefix="team")
    if request.method == "POST":
        if not is_lead:
            raise PermissionDenied("Only leads of this team can change its alerts.")
        if form.is_bound and form.is_valid():
            try:
                for kind, change in form.changes().items():
                    services.rule_set(team=team, kind=kind, user=request.user, **change)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, "Alert thresholds saved.")
                return redirect("alerts:team", slug=team.slug)
        elif channel_form.is_bound and channel_form.is_valid():
            try:
                services.subscription_create(owner=request.user, team=team, **channel_form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(channel_form, exc)
            else:
                messages.success(request, "Channel added.")
                return redirect("alerts:team", slug=team.slug)
    return render(request, "alerts/team_settings.html", {
        "team": team, "form": form, "channel_form": channel_form, "is_lead": is_lead,
        "channels": selectors.team_subscriptions(team),
    })


def my_subscriptions(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.subscription_create(owner=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Subscription added.")
            return redirect("alerts:subscriptions")
    feed = CalendarFeed.objects.filter(user=request.user).first()
    return render(request, "alerts/subscriptions.html", {
        "form": form, "subscriptions": selectors.my_subscriptions(request.user),
        "feed_url": request.build_absolute_uri(reverse("alerts:calendar", args=[feed.secret])) if feed else None,
    })


def _subscription(request: HttpRequest, pk: int) -> Subscription:
    subscription = get_object_or_404(Subscription.objects.filter(
        Q(owner=request.user) | Q(team_id__in=lead_team_ids_for(request.user))), pk=pk)
    return subscription


def _back(subscription: Subscription):
    return redirect("alerts:team", slug=subscription.team.slug) if subscription.team_id else redirect(
        "alerts:subscriptions")


@require_POST
def subscription_test(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _subscription(request, pk)
    services.send_test(subscription)
    messages.info(request, "Test message queued: see its state under Recent notifications.")
    return _back(subscription)


@require_POST
def subscription_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _subscription(request, pk)
    services.subscription_update(subscription=subscription, user=request.user, paused=not subscription.paused)
    messages.success(request, f"Subscription {'paused' if subscription.paused else 'resumed'}.")
    return _back(subscription)


@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _subscription(request, pk)
    back = _back(subscription)
    subscription.delete()
    messages.success(request, "Subscription removed.")
    return back


@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in NotificationStatus.values:
        status = ""
    return render(request, "alerts/notifications.html", {
        "notifications": selectors.recent_notifications(request.user, status=status),
        "status": status, "statuses": NotificationStatus.choices,
    })


@require_POST
def calendar_rotate(request: HttpRequest) -> HttpResponse:
    existed = CalendarFeed.objects.filter(user=request.user).exists()
    if existed:
        services.calendar_feed_rotate(request.user)
        messages.success(request, "New calendar URL: the old one no longer works.")
    else:
        services.calendar_feed_for(request.user)
        messages.success(request, "Your calendar URL is ready.")
    return redirect("alerts:subscriptions")


@login_not_required
@require_GET
def calendar_feed(request: HttpRequest, secret: str) -> HttpResponse:
    """The person's action items with due dates, as iCalendar. The secret is the only credential."""
    feed = CalendarFeed.objects.select_related("user").filter(secret=secret).first()
    if feed is None or not feed.user.is_active:
        raise Http404("No such calendar")
    response = HttpResponse(feeds.action_items_ics(feed.user), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="action-items.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
