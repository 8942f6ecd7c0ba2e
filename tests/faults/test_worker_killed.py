"""A worker SIGKILLed in the middle of a recompute: the task runs again (acks late) and the
snapshots come out exactly as a fresh full recompute computes them."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.kernel.queue import enqueue_by_name
from tests.conftest import wait_for
from tests.factories import TeamFactory
from tests.factories.experiments import ExperimentFactory

pytestmark = pytest.mark.broker

START = dt.datetime(2024, 1, 3, 9, 0, tzinfo=dt.UTC)
# What a snapshot says; bookkeeping (ids, versions, when and how computed) left out.
BOOKKEEPING = {"id", "computed_at", "computed_by", "computed_version", "dirty_version"}


def figures() -> dict:
    fields = [f.attname for f in MetricSnapshot._meta.concrete_fields if f.attname not in BOOKKEEPING]
    return {(row["team_id"], row["month"]): row for row in MetricSnapshot.objects.values(*fields)}


def test_a_worker_killed_mid_recompute_reruns_it_to_the_same_figures(fault_worker, team, other_team):
    for index, owner in enumerate([team, other_team, TeamFactory(slug="search")] * 120):
        ExperimentFactory(team=owner, started_at=START + dt.timedelta(days=index * 2), failed=index % 3 == 0)
    began = time.monotonic()
    engine.recompute_all()
    in_process = time.monotonic() - began
    expected = figures()
    MetricSnapshot.objects.all().delete()

    fault_worker.start(concurrency=1)
    assert enqueue_by_name("metrics.tasks.recompute_all")
    received = re.compile(r"Task metrics\.tasks\.recompute_all\[[^\]]+\] received")
    wait_for(lambda: received.search(fault_worker.log()), timeout=30, interval=0.02)
    time.sleep(min(0.5, in_process / 3))  # into the computation, well before its end
    fault_worker.kill()
    assert figures() != expected, "the task finished before the kill: nothing was interrupted"

    killed_at = time.monotonic()
    fault_worker.lines.clear()
    fault_worker.start(concurrency=1)  # redelivered once its visibility timeout (5 s here) runs out
    wait_for(lambda: figures() == expected, timeout=90, interval=0.5)
    assert received.search(fault_worker.log()), "the new worker ran it again: nobody else did"
    print(f"\nin-process full recompute {in_process:.2f} s; after the SIGKILL the task ran again and "
          f"matched a fresh full recompute {time.monotonic() - killed_at:.1f} s later")
