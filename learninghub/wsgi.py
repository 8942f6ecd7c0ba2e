"""The WSGI entry point (gunicorn).

Once the application is loaded, every view module is imported (the URLconf) and everything
loaded so far is moved out of the garbage collector's reach (``gc.freeze``): its full passes
otherwise traverse all those long-lived objects (Django, DRF, Plotly), and one request in ten
paid for it — the 60-month dashboard's p95 was 3× its median (bench/dashboards.py, in process:
p50 32 ms, p95 99 ms; frozen: p50 34 ms, p95 40 ms).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learninghub.settings")
application = get_wsgi_application()


def _freeze_loaded_objects() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view, and what the views import)
    gc.collect()
    gc.freeze()


_freeze_loaded_objects()
