"""The test suite's profile: ``base`` plus what makes tests fast and self-contained.

Plain ``pytest`` needs no environment: a fixed SECRET_KEY is supplied when none is set. The
environment still chooses the database, the broker and the time zone, so CI's second run
(``DATABASE_URL`` + ``REDIS_URL``) and ``TIME_ZONE=Europe/Paris`` go through this profile too.
"""

import os

# Before ``base`` is evaluated: it refuses to load without a key when DEBUG is off.
if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = "test-only-insecure-secret-key"

from learninghub.settings.base import *  # noqa: F403

# Test users need no expensive password hashing (the default PBKDF2 costs ~0.3 s a user).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Tasks run in-process and their exceptions reach the test, with or without REDIS_URL. The
# tests that need the real path ask for ``celery_worker_process`` (tests/conftest.py), which
# turns eager mode off for that test and starts a worker on the production profile.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

# The MLflow tests' tracking server runs on loopback; "mlflow" is the compose service name.
MLFLOW_ALLOWED_HOSTS = env_list("MLFLOW_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "mlflow"])  # noqa: F405

# Plain (unhashed) static names in the suite: pytest-django's live server serves /static/ from the
# finders, which know no hashed names. Files are still compressed by collectstatic and served
# by whitenoise; the manifest storage of ``base`` (production, ``make run``) differs only in names.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}  # noqa: F405
