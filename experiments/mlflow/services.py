"""Writes to the MLflow mappings: leads of the team (and staff) only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from experiments.models import MlflowMapping
from learninghub.kernel.models import Team
from learninghub.kernel.policy import require_lead
from learninghub.kernel.queue import enqueue_by_name
from learninghub.kernel.urlsafety import validate_outbound_url

MAPPING_FIELDS = ("tracking_uri", "experiment_name", "enabled", "detect_repeats")


def check_tracking_server(tracking_uri: str) -> None:
    """Refuse (ValidationError on ``tracking_uri``) a server the app may not call on a lead's
    say-so: a private address not on the operator's ``MLFLOW_ALLOWED_HOSTS``. Checked when a
    mapping is saved and before each sync (DNS may have changed)."""
    try:
        validate_outbound_url(tracking_uri, what="Tracking server URLs", allowed_hosts=settings.MLFLOW_ALLOWED_HOSTS)
    except ValidationError as exc:
        raise ValidationError({"tracking_uri": [
            f"{' '.join(exc.messages)} An operator can allow this host with MLFLOW_ALLOWED_HOSTS."]}) from exc


def _apply(mapping: MlflowMapping, data: Mapping[str, Any]) -> None:
    for name in MAPPING_FIELDS:
        if name in data:
            setattr(mapping, name, data[name].rstrip("/") if name == "tracking_uri" else data[name])
    mapping.full_clean()
    check_tracking_server(mapping.tracking_uri)


@transaction.atomic
def mapping_create(*, team: Team, user, data: Mapping[str, Any]) -> MlflowMapping:
    if user is not None:
        require_lead(user, team)
    mapping = MlflowMapping(team=team)
    _apply(mapping, data)
    mapping.save()
    return mapping


@transaction.atomic
def mapping_update(*, mapping: MlflowMapping, user, data: Mapping[str, Any]) -> MlflowMapping:
    """Change a mapping; pointing it at another server or experiment re-reads from the start."""
    if user is not None:
        require_lead(user, mapping.team_id)
    source = (mapping.tracking_uri, mapping.experiment_name)
    _apply(mapping, data)
    if (mapping.tracking_uri, mapping.experiment_name) != source:
        mapping.cursor_start_time = None
    mapping.save()
    return mapping


@transaction.atomic
def mapping_delete(*, mapping: MlflowMapping, user) -> None:
    """Stop syncing. The experiments imported through it stay."""
    if user is not None:
        require_lead(user, mapping.team_id)
    mapping.delete()


def mapping_sync_soon(*, mapping: MlflowMapping, user) -> bool:
    """Queue a sync now (False when the broker is down: the hourly sync still runs)."""
    if user is not None:
        require_lead(user, mapping.team_id)
    return enqueue_by_name("experiments.tasks.sync_mlflow_mapping", mapping.pk)
