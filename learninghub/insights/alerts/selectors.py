"""Reads for the alert pages and the rules."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from learninghub.insights.alerts.models import Notification, Subscription
from learninghub.kernel.policy import is_privileged, lead_team_ids_for


def team_is_watched(team_id: int) -> bool:
    """Does any active subscription listen to this team (its channels, or a member's own)?"""
    return Subscription.objects.active().filter(
        Q(team_id=team_id) | Q(team__isnull=True, owner__memberships__team_id=team_id)).exists()


def my_subscriptions(user) -> QuerySet[Subscription]:
    return Subscription.objects.filter(owner=user, team__isnull=True).order_by("-is_default", "id")


def team_subscriptions(team) -> QuerySet[Subscription]:
    return Subscription.objects.filter(team=team).select_related("owner").order_by("id")


def recent_notifications(user, *, status: str = "", limit: int = 100) -> QuerySet[Notification]:
    """The notifications a person may see: to their own subscriptions and to the channels of the
    teams they lead (staff: all), newest first."""
    queryset = Notification.objects.select_related("subscription", "team")
    if not is_privileged(user):
        queryset = queryset.filter(Q(subscription__owner=user) | Q(subscription__team_id__in=lead_team_ids_for(user)))
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "-id")[:limit]
