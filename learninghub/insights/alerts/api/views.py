"""Alert thresholds and subscriptions over the API; thin: the services validate and write."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from learninghub.insights.alerts import services
from learninghub.insights.alerts.api.serializers import (
    AlertRuleSerializer,
    SubscriptionSerializer,
    TestQueuedSerializer,
)
from learninghub.insights.alerts.models import AlertRule, Subscription
from learninghub.kernel import policy
from learninghub.kernel.api.viewsets import TeamScopedViewSet


class AlertRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       mixins.UpdateModelMixin, TeamScopedViewSet):
    """A team's alert thresholds. Everyone signed in reads them; its leads set them. Creating a
    rule that exists updates it (``team`` + ``kind`` is the key); rules never set use defaults."""

    serializer_class = AlertRuleSerializer
    filterset_fields = ["kind"]

    def safely_get_queryset(self):
        queryset = AlertRule.objects.select_related("team", "updated_by").order_by("team__name", "kind")
        team = self.request.query_params.get("team")
        return queryset.filter(team__slug=team) if team else queryset

    def may_change(self, user, obj, *, delete: bool = False) -> bool:
        return policy.can_lead(user, obj.team_id)

    def _save(self, serializer, team, kind):
        data = serializer.validated_data
        return services.rule_set(team=team, kind=kind, user=self.request.user, threshold=data.get("threshold"),
                                 enabled=data.get("enabled"), alert_on_rise=data.get("alert_on_rise"))

    def perform_create(self, serializer):
        serializer.instance = self._save(serializer, serializer.validated_data["team"],
                                         serializer.validated_data["kind"])

    def perform_update(self, serializer):
        rule = serializer.instance
        serializer.instance = self._save(serializer, rule.team, rule.kind)


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, mixins.DestroyModelMixin, TeamScopedViewSet):
    """Your subscriptions and your teams' channels (if you lead them). The generic webhook's
    ``secret`` signs its deliveries (see the README)."""

    serializer_class = SubscriptionSerializer

    def safely_get_queryset(self):
        return Subscription.objects.select_related("owner", "team").order_by("id")

    def may_change(self, user, obj, *, delete: bool = False) -> bool:
        return (obj.owner_id == user.pk or policy.is_privileged(user)
                or (obj.team_id is not None and policy.can_lead(user, obj.team_id)))

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.subscription_create(
            owner=self.request.user, team=data.get("team"), channel=data["channel"], target=data.get("target", ""),
            name=data.get("name", ""), kinds=data.get("kinds"))
        if data.get("paused"):
            services.subscription_update(subscription=serializer.instance, user=self.request.user, paused=True)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("team", None)
        serializer.instance = services.subscription_update(subscription=serializer.instance, user=self.request.user,
                                                           **data)

    @extend_schema(request=None, responses={202: OpenApiResponse(TestQueuedSerializer, "Test message queued")})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a test message to this subscription now (its state shows on the notifications page)."""
        subscription = self.get_object()
        notification = services.send_test(subscription)
        notification.refresh_from_db()
        return Response({"notification": notification.pk, "status": notification.status},
                        status=status.HTTP_202_ACCEPTED)
