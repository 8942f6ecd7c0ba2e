"""The registry's admin writes through the services: validation, version and change events."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from experiments.models import Experiment, Lesson
from learninghub.kernel.periods import Month
from tests.factories import UserFactory
from tests.factories.experiments import ExperimentFactory

pytestmark = pytest.mark.django_db

STARTED = dt.datetime(2025, 3, 10, 9, tzinfo=dt.UTC)


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _form(team, **overrides):
    data = {"team": team.pk, "title": "Bigger batch", "hypothesis": "More negatives help", "approach": "",
            "is_novel": "", "started_at_0": "2025-03-10", "started_at_1": "09:00:00", "ended_at_0": "",
            "ended_at_1": "", "metrics": "{}", "next_steps": "[]", "external_id": "", "outcome": "in_progress",
            "failure_kind": "", "failure_mode": "", "error_type": "", "error_message": "", "error_trace": "",
            "lessons-TOTAL_FORMS": "1", "lessons-INITIAL_FORMS": "0",
            "lessons-0-text": "Estimate memory first", "lessons-0-documented_at_0": "2025-03-12",
            "lessons-0-documented_at_1": "10:00:00", "lessons-0-position": "0",
            "applications-TOTAL_FORMS": "0", "applications-INITIAL_FORMS": "0"}
    return {**data, **overrides}


def _inline_prefixes(admin_client):
    response = admin_client.get(reverse("admin:experiments_experiment_add"))
    formsets = response.context["inline_admin_formsets"]
    return [formset.formset.prefix for formset in formsets]


def test_adding_in_the_admin_goes_through_the_service_and_signals(admin_client, team, signalled,
                                                                   django_capture_on_commit_callbacks):
    lessons, applications = _inline_prefixes(admin_client)
    data = {key.replace("lessons-", f"{lessons}-").replace("applications-", f"{applications}-"): value
            for key, value in _form(team, **{"lessons-TOTAL_FORMS": "0"}).items()}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:experiments_experiment_add"), data)
    assert response.status_code == 302, response.content
    experiment = Experiment.objects.get(title="Bigger batch")
    assert experiment.created_by.username == "root"
    assert (team.pk, frozenset({Month(2025, 3)})) in signalled


def test_a_lesson_added_in_the_admin_signals_its_whole_window(admin_client, team, signalled,
                                                               django_capture_on_commit_callbacks):
    experiment = ExperimentFactory(team=team, started_at=STARTED, title="Bigger batch")
    lessons, applications = _inline_prefixes(admin_client)
    data = {key.replace("lessons-", f"{lessons}-").replace("applications-", f"{applications}-"): value
            for key, value in _form(team).items()}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:experiments_experiment_change", args=[experiment.pk]), data)
    assert response.status_code == 302, response.content
    local = timezone.get_current_timezone()  # the admin reads typed times in the site's time zone
    assert Lesson.objects.get(experiment=experiment).documented_at == dt.datetime(2025, 3, 12, 10, tzinfo=local)
    sent = {month for team_id, months in signalled if team_id == team.pk for month in months}
    assert set(Month.range(Month(2025, 3), Month(2026, 3))) <= sent


def test_editing_in_the_admin_bumps_the_version_and_signals_old_and_new_months(
        admin_client, team, signalled, django_capture_on_commit_callbacks):
    experiment = ExperimentFactory(team=team, started_at=STARTED, title="Bigger batch")
    lessons, applications = _inline_prefixes(admin_client)
    data = {key.replace("lessons-", f"{lessons}-").replace("applications-", f"{applications}-"): value
            for key, value in _form(team, started_at_0="2025-07-01", **{"lessons-TOTAL_FORMS": "0"}).items()}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:experiments_experiment_change", args=[experiment.pk]), data)
    assert response.status_code == 302, response.content
    experiment.refresh_from_db()
    assert experiment.version == 2 and experiment.started_at.month == 7
    sent = {month for team_id, months in signalled if team_id == team.pk for month in months}
    assert {Month(2025, 3), Month(2025, 7)} <= sent


def test_deleting_in_the_admin_goes_through_the_service(admin_client, team, signalled,
                                                        django_capture_on_commit_callbacks):
    experiment = ExperimentFactory(team=team, started_at=STARTED)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:experiments_experiment_delete", args=[experiment.pk]),
                                     {"post": "yes"})
    assert response.status_code == 302
    assert not Experiment.objects.filter(pk=experiment.pk).exists()
    assert any(Month(2025, 3) in months for team_id, months in signalled if team_id == team.pk)
