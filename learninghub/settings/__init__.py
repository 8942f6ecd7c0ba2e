"""Settings: ``base`` is everything, driven by the environment; ``test`` is the suite's profile.

``DJANGO_SETTINGS_MODULE=learninghub.settings`` (what manage.py, the WSGI app and Celery
default to) means ``base``. The package imports ``base`` lazily, on first attribute access,
so that importing ``learninghub.settings.test`` does not evaluate ``base`` before the test
profile has supplied its defaults (``base`` refuses to load without a SECRET_KEY).
"""

from __future__ import annotations

import importlib
from types import ModuleType


def _base() -> ModuleType:
    return importlib.import_module("learninghub.settings.base")


def __getattr__(name: str):
    return getattr(_base(), name)


def __dir__() -> list[str]:
    return dir(_base())
