from rest_framework.routers import DefaultRouter

from postmortems.api.views import ActionItemViewSet, PostMortemViewSet

router = DefaultRouter()
router.register("postmortems", PostMortemViewSet, basename="api-postmortem")
router.register("action-items", ActionItemViewSet, basename="api-action-item")
urlpatterns = router.urls
