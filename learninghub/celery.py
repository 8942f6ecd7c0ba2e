"""The Celery app. Configuration comes from Django settings (CELERY_* names).

Every task defaults to retrying transient failures (broker, database connection) with
exponential backoff; with ``acks_late`` (settings) a task whose worker dies is redelivered,
so tasks must be idempotent and take ids, not objects.
"""

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learninghub.settings")


class RetryingTask(Task):
    autoretry_for = (ConnectionError, TimeoutError)
    retry_backoff = True
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5


def _patch_kombu_redis_detached_channel() -> None:
    """Turn kombu's crash on a lost Redis connection into the connection error it is.

    kombu 5.7.0 (the latest release, pinned in requirements.lock): when Redis drops, the
    consumer collects its connection, which detaches the transport (``transport.client = None``).
    A late ack afterwards (``task_acks_late``: a task that finishes, or the hub settling pending
    acks on shutdown) reaches ``Channel._connparams`` through ``conn_or_acquire`` and dies with
    ``AttributeError: 'NoneType' object has no attribute 'hostname'`` — not a connection error,
    so ``Message.ack_log_error`` lets it through and the worker exits with "Unrecoverable error"
    (the same traceback as celery/kombu#582, where it was a channel closed after its connection;
    the worker-stall fixes of kombu 5.4, celery/kombu#2007, do not cover it). Raising redis'
    ``ConnectionError`` instead makes it what the worker already handles: the ack is logged as
    failed, the message stays unacknowledged and is delivered again after the visibility timeout
    (tasks are idempotent), and the consumer reconnects. Remove once kombu guards this itself.
    """
    from kombu.transport import redis as kombu_redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    original = kombu_redis.Channel._connparams
    if getattr(original, "patched_by_learninghub", False):
        return

    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel is closed")
        return original(self, asynchronous=asynchronous)

    _connparams.patched_by_learninghub = True
    kombu_redis.Channel._connparams = _connparams


_patch_kombu_redis_detached_channel()

app = Celery("learninghub", task_cls=RetryingTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
