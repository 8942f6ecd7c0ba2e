"""Keeping the search index in step with the records: one :class:`SearchDocument` per
experiment, post-mortem, lesson and action item.

The receivers (``receivers.py``) call these on every save and delete; ``rebuild`` recreates the
whole index (``manage.py rebuild_search_index``). The full-text columns follow by themselves
(a generated column on PostgreSQL, triggers on SQLite).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator

from django.db import transaction

from experiments.models import Experiment, Lesson
from learninghub.insights.search.models import DocumentKind, SearchDocument
from postmortems.models import ActionItem, PostMortem

TITLE_LENGTH = 300
BODY_LENGTH = 50_000
EXTRA_LENGTH = 20_000
# Control characters never carry meaning in a record, and \x02/\x03 mark highlights in snippets.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str | None, limit: int) -> str:
    return _CONTROL.sub(" ", text or "")[:limit]


def _join(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


def _short(text: str) -> tuple[str, str]:
    """A lesson's or an action item's text as (title, body): the whole text is the title when it
    fits, so it is not counted twice; a longer one is cut for the title and kept whole below."""
    text = _clean(text, BODY_LENGTH).strip()
    if len(text) <= TITLE_LENGTH:
        return text, ""
    return text[: TITLE_LENGTH - 1].rstrip() + "…", text


def _day_start(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) if day else None


def experiment_fields(experiment: Experiment) -> dict:
    return {
        "team_id": experiment.team_id,
        "restricted": False,
        "title": _clean(experiment.title, TITLE_LENGTH),
        "body": _clean(_join(experiment.hypothesis, experiment.approach), BODY_LENGTH),
        "extra": _clean(_join(*(experiment.next_steps or []), experiment.error_type, experiment.error_message),
                        EXTRA_LENGTH),
        "outcome": experiment.outcome,
        "failure_mode": experiment.failure_mode,
        "dated_at": experiment.started_at,
        "url": experiment.get_absolute_url(),
    }


def postmortem_fields(postmortem: PostMortem) -> dict:
    return {
        "team_id": postmortem.team_id,
        "restricted": postmortem.restricted,
        "title": _clean(postmortem.title, TITLE_LENGTH),
        "body": _clean(_join(postmortem.what_happened, postmortem.root_cause), BODY_LENGTH),
        "extra": _clean(postmortem.what_went_well, EXTRA_LENGTH),
        "outcome": "",
        "failure_mode": postmortem.failure_mode,
        "dated_at": postmortem.occurred_at or postmortem.created_at,
        "url": postmortem.get_absolute_url(),
    }


def lesson_fields(lesson: Lesson) -> dict:
    source = lesson.experiment if lesson.experiment_id else lesson.postmortem
    title, body = _short(lesson.text)
    return {
        "team_id": lesson.team_id,
        "restricted": bool(lesson.postmortem_id and lesson.postmortem.restricted),
        "title": title,
        "body": body,
        "extra": "",
        "outcome": lesson.experiment.outcome if lesson.experiment_id else "",
        "failure_mode": source.failure_mode,
        "dated_at": lesson.documented_at,
        "url": f"{source.get_absolute_url()}#lesson-{lesson.pk}",
    }


def action_item_fields(item: ActionItem) -> dict:
    title, body = _short(item.description)
    postmortem = item.postmortem
    return {
        "team_id": postmortem.team_id,
        "restricted": postmortem.restricted,
        "title": title,
        "body": body,
        "extra": "",
        "outcome": "",
        "failure_mode": postmortem.failure_mode,
        "dated_at": _day_start(item.due_date) or item.created_at,
        "url": f"{postmortem.get_absolute_url()}#action-item-{item.pk}",
    }


BUILDERS: dict[type, tuple[str, Callable[..., dict]]] = {
    Experiment: (DocumentKind.EXPERIMENT, experiment_fields),
    PostMortem: (DocumentKind.POSTMORTEM, postmortem_fields),
    Lesson: (DocumentKind.LESSON, lesson_fields),
    ActionItem: (DocumentKind.ACTION_ITEM, action_item_fields),
}


def index_record(record: Experiment | PostMortem | Lesson | ActionItem) -> None:
    """Write (or rewrite) the record's document; a post-mortem's or an experiment's change also
    reaches the documents of its lessons and action items (restricted flag, outcome, mode)."""
    kind, build = BUILDERS[type(record)]
    SearchDocument.objects.update_or_create(kind=kind, object_id=record.pk, defaults=build(record))
    if isinstance(record, PostMortem):
        lesson_ids = Lesson.objects.filter(postmortem=record).values("pk")
        item_ids = ActionItem.objects.filter(postmortem=record).values("pk")
        shared = {"team_id": record.team_id, "restricted": record.restricted, "failure_mode": record.failure_mode}
        SearchDocument.objects.filter(kind=DocumentKind.LESSON, object_id__in=lesson_ids).update(**shared)
        SearchDocument.objects.filter(kind=DocumentKind.ACTION_ITEM, object_id__in=item_ids).update(**shared)
    elif isinstance(record, Experiment):
        lesson_ids = Lesson.objects.filter(experiment=record).values("pk")
        SearchDocument.objects.filter(kind=DocumentKind.LESSON, object_id__in=lesson_ids).update(
            team_id=record.team_id, outcome=record.outcome, failure_mode=record.failure_mode)


def remove_record(record: Experiment | PostMortem | Lesson | ActionItem) -> None:
    kind, _build = BUILDERS[type(record)]
    SearchDocument.objects.filter(kind=kind, object_id=record.pk).delete()


def _all_documents() -> Iterator[SearchDocument]:
    sources: Iterable[tuple[type, object]] = (
        (Experiment, Experiment.objects.order_by("pk")),
        (PostMortem, PostMortem.objects.order_by("pk")),
        (Lesson, Lesson.objects.select_related("experiment", "postmortem").order_by("pk")),
        (ActionItem, ActionItem.objects.select_related("postmortem").order_by("pk")),
    )
    for model, queryset in sources:
        kind, build = BUILDERS[model]
        for record in queryset.iterator(chunk_size=2000):
            yield SearchDocument(kind=kind, object_id=record.pk, **build(record))


def record_count() -> int:
    return sum(model.objects.count() for model in BUILDERS)


def rebuild(*, batch_size: int = 1000, progress: Callable[[int], None] | None = None) -> int:
    """Replace the whole index with documents built from every record; returns how many."""
    written = 0
    with transaction.atomic():
        SearchDocument.objects.all().delete()
        batch: list[SearchDocument] = []
        for document in _all_documents():
            batch.append(document)
            if len(batch) >= batch_size:
                SearchDocument.objects.bulk_create(batch)
                written += len(batch)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            SearchDocument.objects.bulk_create(batch)
            written += len(batch)
            if progress:
                progress(len(batch))
    return written
