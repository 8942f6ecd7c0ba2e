"""Thin Celery entry points for the experiment registry: the periodic MLflow sync."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from experiments.models import MlflowMapping
from learninghub.kernel.queue import enqueue

SYNC_EXPIRES = 50 * 60  # a sync not started before the next beat is dropped, not piled up


@shared_task(name="experiments.tasks.sync_mlflow_mapping", autoretry_for=(OperationalError,), max_retries=3,
             expires=SYNC_EXPIRES)
def sync_mlflow_mapping(mapping_id: int) -> str:
    """Sync one mapping from its cursor. Safe to run twice (upserts; the cursor only moves forward)."""
    from experiments.mlflow.sync import sync_mapping

    mapping = MlflowMapping.objects.select_related("team").filter(pk=mapping_id, enabled=True).first()
    if mapping is None:
        return "disabled or deleted"
    return sync_mapping(mapping).summary()


@shared_task(name="experiments.tasks.sync_mlflow_mappings", expires=SYNC_EXPIRES)
def sync_mlflow_mappings() -> int:
    """Beat (hourly): one sync task per enabled mapping, so a slow server delays only its own."""
    queued = 0
    for mapping_id in MlflowMapping.objects.filter(enabled=True).values_list("pk", flat=True):
        queued += enqueue(sync_mlflow_mapping, mapping_id)
    return queued
