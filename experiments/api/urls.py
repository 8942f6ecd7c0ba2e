"""Merged into the one API router in learninghub/api.py (which owns the root view)."""

from rest_framework.routers import SimpleRouter

from experiments.api.mlflow import MlflowMappingViewSet
from experiments.api.views import ExperimentViewSet, LessonViewSet

router = SimpleRouter()
router.register("experiments", ExperimentViewSet, basename="api-experiment")
router.register("lessons", LessonViewSet, basename="api-lesson")
router.register("mlflow-mappings", MlflowMappingViewSet, basename="api-mlflow-mapping")
