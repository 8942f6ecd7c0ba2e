"""The API: /api/v1/ aggregates each app's router; schema and locally served docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from learninghub.api.routers import router
from learninghub.api.views import TeamViewSet

router.register("teams", TeamViewSet, basename="api-team")

urlpatterns = [
    path("v1/", include("experiments.api.urls")),
    path("v1/", include("postmortems.api.urls")),
    path("v1/", include("awards.api.urls")),
    path("v1/", include("learninghub.metrics.api.urls")),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
