"""The registry's demo data: the v1 → v4 story with its real figures, idempotent."""

import pytest

from experiments import demo
from experiments.models import Experiment, LessonApplication, Outcome
from experiments.selectors import experiment_lineage
from learninghub.kernel import demo as kernel_demo

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent_and_tells_the_recommendation_story():
    kernel = kernel_demo.seed()
    first = demo.seed(kernel)
    counts = (Experiment.objects.count(), LessonApplication.objects.count())
    versions = dict(Experiment.objects.values_list("pk", "version"))
    second = demo.seed(kernel)
    assert first.startswith(f"{len(demo.SPECS)} experiments added") and second.startswith("0 experiments added")
    assert (Experiment.objects.count(), LessonApplication.objects.count()) == counts
    assert dict(Experiment.objects.values_list("pk", "version")) == versions

    v4 = Experiment.objects.get(external_id="demo-recsys-v4")
    chain = experiment_lineage(v4).chain
    assert [e.metrics.get("ctr") for e in chain[:4]] == [0.45, 0.52, 0.68, 0.71]
    assert chain[1].metrics["latency_ms"] == 300 and chain[2].metrics["latency_ms"] == 50


def test_demo_covers_teams_months_and_kinds_of_failure():
    demo.seed(kernel_demo.seed())
    experiments = Experiment.objects.all()
    failures = experiments.filter(outcome=Outcome.FAILURE)
    assert set(failures.values_list("team__slug", flat=True)) == {"recsys", "data-platform", "search"}
    assert len({(e.started_at.year, e.started_at.month) for e in experiments}) >= 8
    assert failures.filter(failure_kind="system").exclude(error_trace="").count() >= 4
    assert failures.exclude(repeat_of=None).count() >= 3
    assert experiments.filter(is_novel=True).count() >= 5
    assert LessonApplication.objects.count() >= 10
    for experiment in experiments:
        experiment.full_clean()
