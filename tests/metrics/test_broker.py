"""Through a real Redis broker to a real Celery worker (the PostgreSQL/Redis CI run)."""

import datetime as dt

import pytest

from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.kernel.events import team_records_changed
from tests.conftest import wait_for
from tests.factories.experiments import ExperimentFactory
from tests.metrics.conftest import at

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

NOVEMBER = dt.date(2025, 11, 1)


def computed(team, experiments: int):
    snapshot = MetricSnapshot.objects.filter(team=team, month=NOVEMBER).first()
    return snapshot is not None and not snapshot.is_stale and snapshot.experiments_started == experiments


def test_a_lead_schedules_a_recomputation_that_a_worker_runs(celery_worker_process, lead_api, team):
    ExperimentFactory(team=team, started_at=at(2025, 11, 3))
    response = lead_api.post("/api/v1/metrics/recompute/", {"team": "recsys", "from": "2025-11", "to": "2025-11"})
    assert response.status_code == 202 and response.json()["status"] == "scheduled"
    wait_for(lambda: computed(team, 1), timeout=30)


def test_a_burst_of_changes_is_recomputed_by_the_worker_after_the_debounce(celery_worker_process, team, settings):
    settings.METRICS_DEBOUNCE_SECONDS = 1
    for day in range(5):
        ExperimentFactory(team=team, started_at=at(2025, 11, 3 + day))
        team_records_changed.send(sender=None, team_id=team.pk, months=frozenset({NOVEMBER}))
    assert MetricSnapshot.objects.get(team=team, month=NOVEMBER).is_stale
    wait_for(lambda: computed(team, 5), timeout=30)
    organisation = MetricSnapshot.objects.get(team__isnull=True, month=NOVEMBER)
    assert not organisation.is_stale and organisation.experiments_started == 5
