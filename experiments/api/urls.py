"""Registered under /api/v1/ by learninghub/api/urls.py. A SimpleRouter: the API root view is
the kernel's, so this router must not add a second one at the same path."""

from rest_framework.routers import SimpleRouter

from experiments.api.views import ExperimentViewSet, LessonViewSet

router = SimpleRouter()
router.register("experiments", ExperimentViewSet, basename="api-experiment")
router.register("lessons", LessonViewSet, basename="api-lesson")
urlpatterns = router.urls
