"""Celery wiring: tasks run in-process by default, and through a real broker to a real worker."""

import datetime as dt
import uuid
from unittest import mock

import pytest
from celery import Celery, Task
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from experiments.models import Experiment
from learninghub.celery import app
from learninghub.kernel.events import ChangeSet, team_records_changed
from learninghub.kernel.models import OutboxMessage
from learninghub.kernel.outbox import enqueue_durably
from learninghub.kernel.queue import breaker, enqueue
from learninghub.kernel.tasks import drain_outbox, heartbeat, ping
from tests.conftest import wait_for
from tests.factories.experiments import ExperimentFactory


def test_tasks_are_autodiscovered_and_default_to_retry_with_backoff():
    assert "learninghub.kernel.tasks.ping" in app.tasks
    assert ping.retry_backoff is True
    assert ping.max_retries == 5
    assert app.conf.task_acks_late is True


def test_beat_schedule_points_at_tasks_a_worker_registers():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery included
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry


def test_in_process_round_trip():
    token = uuid.uuid4().hex
    assert ping.delay(token).get() == f"pong:{token}"
    assert cache.get(f"ping:{token}") == "pong"


def test_heartbeat_is_idempotent():
    heartbeat.delay()
    heartbeat.delay()
    assert cache.get("worker:last-heartbeat")


def test_enqueue_reports_failure_instead_of_raising_when_the_broker_is_down(settings):
    # What bounds the wait is configuration (one connection attempt, no publish retries), so the
    # test checks that rather than timing the call.
    assert settings.CELERY_TASK_PUBLISH_RETRY is False
    assert settings.CELERY_BROKER_CONNECTION_TIMEOUT <= 1
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["max_retries"] == 0
    offline = Celery("offline", set_as_current=False)
    offline.config_from_object("django.conf:settings", namespace="CELERY")
    offline.conf.update(broker_url="redis://127.0.0.1:1/0", task_always_eager=False)

    @offline.task(name="offline.noop")
    def noop():
        return None

    assert enqueue(noop) is False


@pytest.mark.broker
def test_round_trip_through_the_broker_to_a_real_worker(celery_worker_process):
    token = uuid.uuid4().hex
    assert enqueue(ping, token) is True
    wait_for(lambda: cache.get(f"ping:{token}") == "pong", timeout=30)


# --- The outbox: work after a write survives a broker outage --------------------------------

FAILURE = {"team": "recsys", "title": "Two-tower retrieval with in-batch negatives",
           "hypothesis": "In-batch negatives improve recall of the two-tower retrieval model",
           "started_at": "2026-11-02T09:00:00Z", "ended_at": "2026-11-02T10:00:00Z",
           "outcome": "failure", "failure_kind": "system"}


@pytest.fixture
def dead_broker():
    """Tasks not in-process, and a broker URL nothing listens on (an outage)."""
    saved = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager}

    def reset_pools():
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.update(broker_url="redis://127.0.0.1:1/0", task_always_eager=False)
    reset_pools()
    yield app
    app.conf.update(**saved)
    reset_pools()


def broker_returns():
    """The outage ends: here, tasks run in-process again, so a publish runs the task at once."""
    app.conf.task_always_eager = True
    breaker.reset()


def test_in_process_writes_store_nothing_in_the_outbox(member_api, team, django_capture_on_commit_callbacks):
    ExperimentFactory(team=team, failed=True, title=FAILURE["title"], hypothesis=FAILURE["hypothesis"],
                      started_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    with django_capture_on_commit_callbacks(execute=True):
        response = member_api.post("/api/v1/experiments/", FAILURE, format="json")
    assert response.status_code == 201
    assert not OutboxMessage.objects.exists()
    assert Experiment.objects.get(pk=response.json()["id"]).repeat_of is not None, "detected at once, as before"


def test_work_after_writes_during_an_outage_waits_in_the_outbox_and_runs_when_the_broker_returns(
        dead_broker, member_api, team, member, django_capture_on_commit_callbacks):
    earlier = ExperimentFactory(team=team, failed=True, title=FAILURE["title"], hypothesis=FAILURE["hypothesis"],
                                started_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    published = []
    real_apply_async = Task.apply_async

    def counting_apply_async(task, *args, **kwargs):
        published.append(task.name)
        return real_apply_async(task, *args, **kwargs)

    with mock.patch.object(Task, "apply_async", counting_apply_async), \
            django_capture_on_commit_callbacks(execute=True):
        ids = [member_api.post("/api/v1/experiments/", FAILURE | {"title": f"{FAILURE['title']} ({n})"},
                               format="json").json()["id"] for n in range(3)]
        pm = member_api.post("/api/v1/postmortems/", {
            "team": team.slug, "title": "Outage", "occurred_at": "2026-11-01T08:00:00Z",
            "action_items": [{"description": "Fix it", "owner": member.username}]}, format="json")
    assert pm.status_code == 201
    assert len(published) == 1, "one failed attempt, then the breaker skips the broker"
    waiting = sorted(OutboxMessage.objects.values_list("task", flat=True))
    assert waiting.count("repeats.tasks.detect_repeat") == 3
    assert waiting.count("metrics.tasks.recompute_stale") == 1, "one debounced run waits, not one per write"
    assert "postmortems.tasks.notify_action_item_assigned" in waiting
    assert "learninghub.kernel.tasks.deliver_changes" not in waiting, "change events were delivered in-process"
    assert not Experiment.objects.filter(pk__in=ids, repeat_of__isnull=False).exists()

    broker_returns()
    with django_capture_on_commit_callbacks(execute=True):
        drain_outbox.delay()
    assert not OutboxMessage.objects.exists()
    assert set(Experiment.objects.filter(pk__in=ids).values_list("repeat_of", flat=True)) <= {earlier.pk, *ids}
    assert not Experiment.objects.filter(pk__in=ids, repeat_of__isnull=True).exists()
    assert len(mail.outbox) == 1 and "Action item assigned" in mail.outbox[0].subject


def test_a_draining_is_idempotent_and_claims_what_it_publishes(dead_broker, team):
    enqueue_durably("learninghub.kernel.tasks.ping", "first")
    [message] = OutboxMessage.objects.all()
    assert message.attempts == 1 and message.last_error
    broker_returns()
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now() + dt.timedelta(minutes=1))
    assert drain_outbox.delay().get() == 0, "a message another process has claimed is left to it"
    OutboxMessage.objects.update(available_at=timezone.now())
    assert drain_outbox.delay().get() == 1
    assert drain_outbox.delay().get() == 0
    assert cache.get("ping:first") == "pong"


def test_change_events_a_receiver_failed_on_are_delivered_again_by_a_worker(dead_broker, team,
                                                                            django_capture_on_commit_callbacks):
    def broken(**kwargs):
        raise RuntimeError("receiver on fire")

    team_records_changed.connect(broken, dispatch_uid="test-broken-receiver")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ChangeSet().moments(team.pk, dt.datetime(2026, 11, 2, tzinfo=dt.UTC)).emit()
    finally:
        team_records_changed.disconnect(dispatch_uid="test-broken-receiver")
    [envelope] = OutboxMessage.objects.filter(task="learninghub.kernel.tasks.deliver_changes")
    assert envelope.args == [{"months": {str(team.pk): ["2026-11"]}, "failures": []}]

    broker_returns()
    OutboxMessage.objects.update(available_at=timezone.now())  # its lease ran out
    received = []
    team_records_changed.connect(lambda **kwargs: received.append(kwargs["months"]), weak=False,
                                 dispatch_uid="test-receiver")
    try:
        drain_outbox.delay()
    finally:
        team_records_changed.disconnect(dispatch_uid="test-receiver")
    assert [sorted(month.key for month in months) for months in received] == [["2026-11"]]
    assert not OutboxMessage.objects.filter(task="learninghub.kernel.tasks.deliver_changes").exists()


def test_stale_snapshots_are_rescheduled_by_the_drain(team, settings):
    from learninghub.insights.metrics import engine
    from learninghub.insights.metrics.models import MetricSnapshot

    engine.mark_stale(team.pk, [dt.date(2026, 11, 1)])  # marked while the broker was down
    assert MetricSnapshot.objects.stale().exists()
    drain_outbox.delay()
    assert not MetricSnapshot.objects.stale().exists()


def test_a_late_ack_on_a_connection_redis_dropped_is_a_connection_error_not_a_crash():
    """The kombu 5.7.0 crash (``'NoneType' object has no attribute 'hostname'``), patched in
    ``learninghub.celery``: the worker treats a detached channel as a lost connection."""
    from types import SimpleNamespace

    from kombu.transport import redis as kombu_redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    detached = SimpleNamespace(connection=SimpleNamespace(client=None))
    with pytest.raises(RedisConnectionError):
        kombu_redis.Channel._connparams(detached)


def test_the_redis_cache_misses_instead_of_failing_while_redis_is_down():
    from learninghub.kernel import cache as resilient
    from learninghub.kernel.cache import ResilientRedisCache

    down = ResilientRedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 1}})
    assert down.get("key", "fallback") == "fallback"
    assert resilient.breaker.is_open(), "one failure opens the breaker: the next calls skip Redis"
    with mock.patch("django.core.cache.backends.redis.RedisCacheClient.get") as reached:
        assert down.get("key") is None
    assert not reached.called
    assert down.add("key", 1) is False and down.set("key", 1) is None and down.delete("key") is False
    assert down.get_many(["a", "b"]) == {}
    with pytest.raises(ValueError):
        down.incr("key")
