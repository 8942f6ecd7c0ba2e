"""Optimistic concurrency for records with a ``version`` column.

An edit carries the version it was based on; saving bumps the version with a conditional
UPDATE, so of two concurrent edits based on the same version exactly one wins and the other
gets :class:`StaleVersionError` (the API answers 409, or 412 when the client used If-Match).
"""

from __future__ import annotations

from django.db import models


class StaleVersionError(Exception):
    def __init__(self, current_version: int, sent_version: int):
        self.current_version = current_version
        self.sent_version = sent_version
        super().__init__(
            f"This record was changed by someone else (now version {current_version}, "
            f"your edit was based on version {sent_version}). Reload it and apply your change again."
        )


def claim_next_version(instance: models.Model, expected_version: int | None) -> None:
    """Atomically move ``instance`` from ``expected_version`` to the next version.

    Call inside the transaction that saves the edit, before saving the other fields. With
    ``expected_version`` None the edit is unconditional (last write wins) but still bumps.
    """
    model = type(instance)
    queryset = model._default_manager.filter(pk=instance.pk)
    if expected_version is not None:
        queryset = queryset.filter(version=expected_version)
    updated = queryset.update(version=models.F("version") + 1)
    if not updated:
        current = model._default_manager.filter(pk=instance.pk).values_list("version", flat=True).first()
        raise StaleVersionError(current_version=current or 0, sent_version=expected_version or 0)
    instance.version = model._default_manager.filter(pk=instance.pk).values_list("version", flat=True).get()
