"""The API root: ``/api/v1/`` lists every resource of every app; schema and locally served docs.

Each app's ``api/urls.py`` owns a ``SimpleRouter``; their registries are merged into one
``DefaultRouter`` here so there is exactly one root view, and it lists them all.
"""

from django.conf import settings
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from awards.api.urls import router as awards_router
from experiments.api.urls import router as experiments_router
from learninghub.insights.alerts.api.urls import router as alerts_router
from learninghub.insights.metrics.api.urls import urlpatterns as metrics_urlpatterns
from learninghub.insights.search.api.urls import urlpatterns as search_urlpatterns
from learninghub.kernel.api.views import TeamViewSet
from postmortems.api.urls import router as postmortems_router

# Resources that are plain views rather than viewsets, listed in the root beside the routers'.
EXTRA_ROOT_ENTRIES = {"metrics": "api-metrics", "search": "api-search"}


class ApiRouter(DefaultRouter):
    def get_api_root_view(self, api_urls=None):
        root = {prefix: self.routes[0].name.format(basename=basename) for prefix, _, basename in self.registry}
        root.update(EXTRA_ROOT_ENTRIES)
        return self.APIRootView.as_view(api_root_dict=root)


router = ApiRouter()
router.register("teams", TeamViewSet, basename="api-team")
for app_router in (experiments_router, postmortems_router, awards_router, alerts_router):
    router.registry.extend(app_router.registry)

# ReDoc runs its search in a worker it builds from a blob: URL, and injects two <style> elements
# (an empty one and its scrollbar styles) before it can be given the nonce: allowed by their hashes
# (those of the pinned drf-spectacular-sidecar; a new version at worst loses scrollbar styling).
# Its "API docs by Redocly" logo points at cdn.redoc.ly: img-src refuses it, nothing leaves.
REDOC_STYLE_HASHES = ["'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
                      "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"]
REDOC_CSP = {**settings.SECURE_CSP, "worker-src": [CSP.SELF, "blob:"],
             "style-src": [*settings.SECURE_CSP["style-src"], *REDOC_STYLE_HASHES]}

urlpatterns = [
    path("v1/", include([*metrics_urlpatterns, *search_urlpatterns, *router.urls])),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Our templates: the sidecar's files, no web fonts, and the CSP nonce on the inline parts.
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    path("redoc/", csp_override(REDOC_CSP)(
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")), name="api-redoc"),
]
