"""Health checks for /healthz: each answers quickly even when its dependency is down."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Min
from django.utils import timezone
from kombu import Connection

from learninghub.kernel.models import OutboxMessage

# Work after a write older than this in the outbox means the broker (or every worker's drain) has
# been gone for a while: the report says so, though the app still answers.
OUTBOX_STUCK_SECONDS = 15 * 60


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        result = {"ok": True, **(detail or {})}
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> dict:
    def run():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"vendor": connection.vendor}

    return _timed(run)


def check_cache() -> dict:
    def run():
        key = f"healthz:{uuid.uuid4().hex}"
        cache.set(key, "1", timeout=5)
        if cache.get(key) != "1":
            raise RuntimeError("value written to the cache could not be read back")
        cache.delete(key)
        return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}

    return _timed(run)


def check_broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "in-process", "ms": 0.0}

    def run():
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=1,
                        transport_options={"socket_connect_timeout": 1, "socket_timeout": 1}) as conn:
            conn.ensure_connection(max_retries=0, timeout=1)
        return {"mode": "broker"}

    return _timed(run)


def check_outbox() -> dict:
    """How much work after a write waits for the broker, and for how long (normally none)."""

    def run():
        summary = OutboxMessage.objects.aggregate(oldest=Min("created_at"))
        waiting = OutboxMessage.objects.count()
        oldest = (timezone.now() - summary["oldest"]).total_seconds() if summary["oldest"] else 0.0
        if oldest > OUTBOX_STUCK_SECONDS:
            raise RuntimeError(f"{waiting} message(s) waiting, the oldest for {oldest / 60:.0f} minutes")
        return {"waiting": waiting, "oldest_seconds": round(oldest, 1)}

    return _timed(run)


def health_report() -> tuple[dict, bool]:
    """The report and whether the app is healthy (the database answers; the rest degrade)."""
    report = {"database": check_database(), "cache": check_cache(), "broker": check_broker()}
    if report["database"]["ok"]:
        report["outbox"] = check_outbox()
    return report, report["database"]["ok"]
