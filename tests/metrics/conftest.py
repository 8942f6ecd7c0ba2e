"""Fixtures for the metrics tests: a dated world builder and a broker that is down."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest

from tests.factories.experiments import ExperimentFactory, LessonApplicationFactory, LessonFactory


def at(year: int, month: int, day: int = 1, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def lesson_source(team):
    """An old experiment that lessons are learned from (started long before the tested months)."""
    return ExperimentFactory(team=team, started_at=at(2020, 1, 5), title="Where lessons come from")


def make_lesson(team, source, documented_at, applied_at=None, place=None):
    """A lesson of ``team`` documented at ``documented_at``, applied once at ``applied_at`` if given."""
    lesson = LessonFactory(team=team, experiment=source, documented_at=documented_at)
    if applied_at is not None:
        LessonApplicationFactory(lesson=lesson, experiment=place or source_place(team), applied_at=applied_at)
    return lesson


def source_place(team):
    """The experiment lessons are applied in (started long before the tested months)."""
    from experiments.models import Experiment

    place = Experiment.objects.filter(team=team, title="Where lessons are applied").first()
    return place or ExperimentFactory(team=team, started_at=at(2020, 2, 5), title="Where lessons are applied")


@pytest.fixture
def broker_down():
    """The real Celery app pointed at a port nothing listens on, tasks not in-process."""
    from learninghub.celery import app

    saved = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager}

    def reset_pools():
        app._pool = None
        with contextlib.suppress(AttributeError, KeyError):
            app.__dict__["amqp"]._producer_pool = None

    app.conf.update(broker_url="redis://127.0.0.1:1/0", task_always_eager=False)
    reset_pools()
    yield app
    app.conf.update(**saved)
    reset_pools()
