"""Redis (broker and cache) stopped for 30 s under a bounded write load, with a real worker.

The load is the issue's: 10 writes a second for 60 s through the HTTP API of a live server
(threads, real sockets), each a failed experiment, so every write asks for repeat detection and
a recompute; Redis stops 15 s in and comes back 30 s later. Then:

- every write answered 2xx, none 5xx, and every one is in the database;
- write p95 while Redis was down stays at or under 1 s (the breaker and the outbox: no publish
  waits on the broker) — a bound on the system's behaviour, generous against the ~50 ms a
  write takes here, and well under the 1.1–3.1 s the issue measured before the outbox;
- pages kept answering during the outage;
- the worker survived (or its restart policy would have to bring it back: this test demands
  it survives) and runs tasks again within 30 s of Redis returning;
- repeat detection ran for every failure written during the outage (nothing dropped);
- stale snapshots are recomputed afterwards.

About 2 minutes on the 2-core CI machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from experiments.models import Experiment
from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.insights.repeats.models import RepeatCandidate
from learninghub.kernel.models import OutboxMessage
from learninghub.kernel.tasks import ping
from tests.conftest import wait_for
from tests.factories import issue_token
from tests.factories.experiments import ExperimentFactory

pytestmark = pytest.mark.broker

RATE = 10  # writes per second
DURATION = 60.0
OUTAGE_START, OUTAGE_END = 15.0, 45.0
STARTED = dt.datetime(2025, 11, 10, 9, 0, tzinfo=dt.UTC)
TITLE = "Two-tower retrieval with in-batch negatives"
HYPOTHESIS = "In-batch negatives improve recall of the two-tower retrieval model"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def detected(ids: list[int]) -> int:
    """How many of these failures repeat detection has seen (linked, or queued for review)."""
    linked = set(Experiment.objects.filter(pk__in=ids, repeat_of__isnull=False).values_list("pk", flat=True))
    reviewed = set(RepeatCandidate.objects.filter(experiment_id__in=ids).values_list("experiment_id", flat=True))
    return len(linked | reviewed)


def test_a_30_second_redis_outage_under_load_loses_nothing(fault_worker, fault_broker, live_server, team, member,
                                                           settings):
    settings.METRICS_DEBOUNCE_SECONDS = 1
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    ExperimentFactory(team=team, failed=True, title=TITLE, hypothesis=HYPOTHESIS,
                      started_at=STARTED - dt.timedelta(days=30))
    fault_worker.start()
    _, key = issue_token(member)
    url = f"{live_server.url}/api/v1/experiments/"
    results: list[dict] = []
    lock = threading.Lock()
    http = httpx.Client(headers={"Authorization": f"Token {key}"}, timeout=30)

    def write(index: int, sent_at: float) -> None:
        began = time.monotonic()
        response = http.post(url, json={
            "team": team.slug, "title": f"{TITLE} (run {index})", "hypothesis": HYPOTHESIS,
            "started_at": (STARTED + dt.timedelta(minutes=index)).isoformat(),
            "ended_at": (STARTED + dt.timedelta(minutes=index, seconds=30)).isoformat(),
            "outcome": "failure", "failure_kind": "system"})
        elapsed = time.monotonic() - began
        with lock:
            results.append({"at": sent_at, "seconds": elapsed, "status": response.status_code,
                            "id": response.json().get("id") if response.status_code < 300 else None})

    pages: list[tuple[float, int]] = []
    stop_pages = threading.Event()

    def read_pages(origin: float) -> None:
        browser = Client()
        browser.force_login(member)
        while not stop_pages.is_set():
            for path in ("/", "/experiments/", f"/teams/{team.slug}/"):
                pages.append((time.monotonic() - origin, browser.get(path).status_code))
            stop_pages.wait(2)
        connection.close()

    first_task_after_outage: list[float] = []

    def probe() -> None:
        """From Redis's return: a ping every half second until the worker answers one."""
        tokens = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                tokens.append(uuid.uuid4().hex)
                ping.apply_async(args=(tokens[-1],))
            with contextlib.suppress(Exception):
                if any(cache.get(f"ping:{token}") == "pong" for token in tokens):
                    first_task_after_outage.append(time.monotonic())
                    return
            time.sleep(0.5)

    origin = time.monotonic()
    reader = threading.Thread(target=read_pages, args=(origin,), daemon=True)
    reader.start()
    redis_back_at = redis_back_wall = None
    with ThreadPoolExecutor(max_workers=8) as pool:
        for index in range(int(RATE * DURATION)):
            offset = index / RATE
            if redis_back_at is None and fault_broker.process is not None and offset >= OUTAGE_START:
                fault_broker.stop()
            if redis_back_at is None and fault_broker.process is None and offset >= OUTAGE_END:
                fault_broker.start()
                redis_back_at, redis_back_wall = time.monotonic(), time.time()
                threading.Thread(target=probe, daemon=True).start()
            time.sleep(max(0.0, origin + offset - time.monotonic()))
            pool.submit(write, index, offset)
    stop_pages.set()
    reader.join(timeout=30)
    http.close()

    # Every write answered 2xx and is in the database.
    statuses = [result["status"] for result in results]
    assert len(results) == RATE * DURATION
    assert [status for status in statuses if status >= 500] == []
    assert all(200 <= status < 300 for status in statuses), sorted(set(statuses))
    written = [result["id"] for result in results]
    assert Experiment.objects.filter(pk__in=written).count() == len(written)

    # Fast during the outage: no publish waits on the broker. On a quiet machine that is the
    # issue's 1 s; on a machine other jobs saturate, writes are slow with or without Redis, so
    # the bound is the larger of 1 s and 1.5 × the p95 of the same run's writes outside the
    # outage (a hang of one connection timeout per task, the old behaviour, exceeds both).
    during = [r for r in results if OUTAGE_START <= r["at"] < OUTAGE_END]
    outage_p95 = p95([r["seconds"] for r in during])
    baseline_p95 = p95([r["seconds"] for r in results if not OUTAGE_START <= r["at"] < OUTAGE_END])
    print(f"\nwrites: {len(results)}, during the outage: {len(during)}, p95 during the outage: {outage_p95:.3f} s, "
          f"p95 otherwise: {baseline_p95:.3f} s, p50 during the outage: "
          f"{statistics.median(r['seconds'] for r in during):.3f} s")
    assert outage_p95 <= max(1.0, 1.5 * baseline_p95)

    # Pages kept answering, during the outage too.
    assert [status for _, status in pages if status != 200] == []
    assert any(OUTAGE_START <= at < OUTAGE_END for at, _ in pages)

    # The worker survived and consumes again soon after Redis returned: the first task it
    # received from then on (its log's clock is this machine's wall clock, like ``time.time``).
    assert fault_worker.alive(), fault_worker.log()[-4000:]
    assert "Unrecoverable error" not in fault_worker.log()
    consumed = [at for at in fault_worker.received_at() if at >= redis_back_wall]
    assert consumed, fault_worker.log()[-4000:]
    print(f"worker consumed again {consumed[0] - redis_back_wall:.1f} s after Redis returned")
    assert consumed[0] - redis_back_wall <= 30
    if first_task_after_outage:  # informational: it waits behind the backlog, which depends on the load
        print(f"a task published as Redis returned ran {first_task_after_outage[0] - redis_back_at:.1f} s later")

    # Nothing dropped: repeat detection for every failure written during the outage, then
    # everything else (the outbox drained), then the snapshots recomputed.
    outage_ids = [r["id"] for r in during]
    wait_for(lambda: detected(outage_ids) == len(outage_ids), timeout=180, interval=1)
    wait_for(lambda: detected(written) == len(written), timeout=60, interval=1)
    wait_for(lambda: not OutboxMessage.objects.exists(), timeout=60, interval=1)
    wait_for(lambda: not MetricSnapshot.objects.stale().exists(), timeout=60, interval=1)
    november = MetricSnapshot.objects.get(team=team, month=dt.date(2025, 11, 1))
    assert november.experiments_started == len(written)
    print(f"repeat detection ran for {detected(outage_ids)} of {len(outage_ids)} outage failures; "
          f"recovered (drained and recomputed) {time.monotonic() - redis_back_at:.1f} s after Redis returned")
