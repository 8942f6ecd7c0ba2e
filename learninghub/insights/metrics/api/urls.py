from django.urls import path

from learninghub.insights.metrics.api.views import MetricsView, RecomputeView

urlpatterns = [
    path("metrics/", MetricsView.as_view(), name="api-metrics"),
    path("metrics/recompute/", RecomputeView.as_view(), name="api-metrics-recompute"),
]
