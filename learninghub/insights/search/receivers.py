"""Index maintenance: every save and delete of an indexed record rewrites its search document,
inside the same transaction (a rolled-back write leaves the index as it was)."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from experiments.models import Experiment, Lesson
from learninghub.insights.search import indexing
from postmortems.models import ActionItem, PostMortem


def record_saved(sender, instance, raw: bool = False, **kwargs) -> None:
    if not raw:  # fixtures load related rows in any order: rebuild_search_index after loaddata
        indexing.index_record(instance)


def record_deleted(sender, instance, **kwargs) -> None:
    indexing.remove_record(instance)


for _model in (Experiment, PostMortem, Lesson, ActionItem):
    post_save.connect(record_saved, sender=_model, dispatch_uid=f"search-{_model._meta.label_lower}-saved")
    post_delete.connect(record_deleted, sender=_model, dispatch_uid=f"search-{_model._meta.label_lower}-deleted")
