"""Fixtures for the registry's tests: a recorder for the metrics-engine signal, a lineage."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from learninghub.kernel.events import team_records_changed
from tests.factories.experiments import ExperimentFactory


@pytest.fixture
def signalled():
    """Every ``team_records_changed`` sent during the test, as (team_id, months)."""
    calls: list[tuple[int, frozenset]] = []

    def receiver(sender, team_id, months, **kwargs):
        calls.append((team_id, months))

    team_records_changed.connect(receiver, dispatch_uid="tests-experiments-signalled")
    yield calls
    team_records_changed.disconnect(dispatch_uid="tests-experiments-signalled")


@pytest.fixture
def lineage(team, member):
    """The recommendation story: v1 CTR 45%, v2 52% at 300 ms, v3 68% at 50 ms, v4 71%."""
    start = timezone.now() - dt.timedelta(days=200)
    v1 = ExperimentFactory(team=team, created_by=member, title="Recsys v1", metrics={"ctr": 0.45},
                           started_at=start, failed=True)
    v2 = ExperimentFactory(team=team, created_by=member, title="Recsys v2", builds_on=v1,
                           metrics={"ctr": 0.52, "latency_ms": 300}, started_at=start + dt.timedelta(days=30),
                           failed=True)
    v3 = ExperimentFactory(team=team, created_by=member, title="Recsys v3", builds_on=v2,
                           metrics={"ctr": 0.68, "latency_ms": 50}, started_at=start + dt.timedelta(days=60),
                           succeeded=True)
    v4 = ExperimentFactory(team=team, created_by=member, title="Recsys v4", builds_on=v3,
                           metrics={"ctr": 0.71}, started_at=start + dt.timedelta(days=90), succeeded=True)
    return [v1, v2, v3, v4]
