"""The list pages' full-text search, provided by a layer above the apps.

The apps' filters (``search`` on the experiment, post-mortem and lesson lists and their API)
must not import the search engine (``learninghub.insights.search``, the top layer), so the engine plugs
itself in here when its app is ready, and the filters ask through :func:`search_filter`. When
no engine is registered (an installation without the search app, or a test that unplugs it),
the filters fall back to their own ``icontains`` matching.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from learninghub.kernel.policy import SYSTEM

#: ``(model_label, user, query)`` → primary keys (a ``values`` queryset) of that model's records
#: that match ``query`` and ``user`` may see, or ``None`` when the engine can't answer (a model
#: it doesn't index, a query with nothing to look for): then the caller falls back.
TextSearch = Callable[[str, Any, str], "QuerySet | None"]

_engine: TextSearch | None = None


def register_text_search(engine: TextSearch | None) -> TextSearch | None:
    """Make ``engine`` the list pages' search (``None`` unplugs it); returns the previous one."""
    global _engine
    previous, _engine = _engine, engine
    return previous


def text_search_ids(model_label: str, user: Any, query: str) -> QuerySet | None:
    """Primary keys of the ``model_label`` (``"experiments.experiment"``) records matching
    ``query`` for ``user``, from the registered engine; ``None`` means "use your fallback"."""
    if _engine is None:
        return None
    return _engine(model_label, user, query)


def search_filter(queryset: QuerySet, request: Any, value: str,
                  fallback: Callable[[QuerySet, str], QuerySet]) -> QuerySet:
    """A list filter's ``search``: the rows of ``queryset`` (already the viewer's visible part, so
    search never widens it) the engine matches, keeping the list's sort; ``fallback(queryset,
    value)`` when no engine answers. A blank ``value`` filters nothing."""
    value = value.strip()
    if not value:
        return queryset
    user = getattr(request, "user", None) or SYSTEM
    matching = text_search_ids(queryset.model._meta.label_lower, user, value)
    return fallback(queryset, value) if matching is None else queryset.filter(pk__in=matching)
