"""The dashboards' charts and tables, drawn once per set of figures.

A dashboard's charts, their data tables and the month-by-month table are a pure function of
the snapshots shown (and of the code that draws them), and drawing them was most of a page's
server time (the 60-month team dashboard: about 20 of 36 ms). So the view reads the snapshots as
always (freshness, stale-while-revalidate and live computation are unchanged), then keys the
drawn HTML by a digest of exactly what it was drawn from: every value of every snapshot shown
(but the counter a write bumps to mark it stale), the months, the teams' names and a digest of
the drawing code. Any change to a figure (a
recompute that rewrote a row) or to the code gives another key, so an entry can never show
figures other than those read; entries expire after ``FRAGMENT_TTL`` seconds and, without
Redis, live in each process's memory.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterable
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache as django_cache

from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.insights.metrics.selectors import SnapshotPoint

FRAGMENT_TTL = 600
KEY_PREFIX = "dashboard-fragment"
#: Not part of what a fragment is drawn from: a write bumps it to mark the snapshot stale, and the
#: figures shown stay the same until a recompute rewrites the row (the status line, outside the
#: fragments, says they are stale).
_STALENESS_COUNTER = "dirty_version"
_snapshot_values = attrgetter(*(field.attname for field in MetricSnapshot._meta.concrete_fields
                                if field.attname != _STALENESS_COUNTER))
_point_values = attrgetter(*(name for name in SnapshotPoint._fields if name != _STALENESS_COUNTER))


@cache
def _code_digest() -> str:
    """A digest of the modules and templates that draw the fragments: a deployment that changes
    how a chart is drawn does not serve what the previous code drew."""
    package = Path(__file__).resolve().parent
    templates = Path(settings.BASE_DIR) / "templates"
    kernel_tags = package.parent.parent / "kernel" / "templatetags"
    files = [*package.glob("*.py"), *(package / "templatetags").glob("*.py"), *kernel_tags.glob("*.py"),
             *(templates / "dashboards").glob("*.html"), *(templates / "partials").glob("*.html")]
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fragment_key(name: str, inputs: Iterable[Any], rows: Iterable) -> str:
    """The cache key of fragment ``name`` drawn from ``rows`` (snapshots, or the points the
    organisation's trend reads) and ``inputs`` (plain values: slugs, month keys, team names).
    Every value of every row goes into the digest (``attrgetter`` and one pickle: about 1 ms for the
    organisation dashboard's 663 rows, where ``repr`` per row took 4)."""
    values = [(_point_values if type(row) is SnapshotPoint else _snapshot_values)(row) for row in rows]
    digest = hashlib.blake2b(pickle.dumps((_code_digest(), tuple(inputs), values), protocol=5), digest_size=16)
    return f"{KEY_PREFIX}:{name}:{digest.hexdigest()}"


def drawn(key: str, draw: Callable[[], Any]) -> Any:
    """What ``draw()`` returned for ``key``, drawn now if no process has drawn it yet."""
    value = django_cache.get(key)
    if value is None:
        value = draw()
        django_cache.set(key, value, FRAGMENT_TTL)
    return value
