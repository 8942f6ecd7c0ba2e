"""Merged into the one API router in learninghub/api.py."""

from rest_framework.routers import SimpleRouter

from learninghub.insights.alerts.api.views import AlertRuleViewSet, SubscriptionViewSet

router = SimpleRouter()
router.register("alert-rules", AlertRuleViewSet, basename="api-alert-rule")
router.register("alert-subscriptions", SubscriptionViewSet, basename="api-alert-subscription")
