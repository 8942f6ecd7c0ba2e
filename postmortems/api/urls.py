from rest_framework.routers import SimpleRouter

from postmortems.api.views import ActionItemViewSet, PostMortemViewSet

router = SimpleRouter()
router.register("postmortems", PostMortemViewSet, basename="api-postmortem")
router.register("action-items", ActionItemViewSet, basename="api-action-item")
