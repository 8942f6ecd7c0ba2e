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


app = Celery("learninghub", task_cls=RetryingTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
