"""The one change-event mechanism: a :class:`ChangeSet` per write.

Apps never import insights. Instead every service records, in a ChangeSet, which months of which
team its write can change (DESIGN.md, "Staleness") and which failures it recorded, and emits the
set once, when the surrounding transaction commits:

- ``team_records_changed(team_id, months)``: one send per team, ``months`` a frozenset of
  :class:`~learninghub.kernel.periods.Month`; the metrics engine marks those snapshots stale;
- ``failure_recorded(kind, record_id, team_id)``: one send per failure (``kind`` is ``"experiment"`` or
  ``"postmortem"``); repeat detection enqueues its comparison.

The rules for "which months can this change" live here, once, as ChangeSet methods, so services
state what they changed (``changes.lesson(team_id, documented_at)``) rather than compute months.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import transaction
from django.dispatch import Signal

from learninghub.kernel import outbox
from learninghub.kernel.periods import Month

# Sent with: team_id: int, months: frozenset[Month].
team_records_changed = Signal()
# Sent with: kind: "experiment" | "postmortem", record_id: int, team_id: int.
failure_recorded = Signal()

FAILURE_KINDS = ("experiment", "postmortem")
DELIVER_TASK = "learninghub.kernel.tasks.deliver_changes"
# A lesson counts in the application rate of every month whose 365-day window holds it.
LESSON_WINDOW = dt.timedelta(days=365)

Moment = dt.date | dt.datetime | None


class ChangeSet:
    """What one write (one transaction) changed: team-months and recorded failures.

    Build it up with the rule methods, then :meth:`emit` once: a single ``on_commit`` callback
    sends the merged months per team and the failures. Nothing is sent if the transaction rolls
    back. Services that call other services pass theirs down, so a nested write adds to the
    caller's set instead of emitting its own.
    """

    def __init__(self) -> None:
        self._months: dict[int, set[Month]] = defaultdict(set)
        self._failures: dict[tuple[str, int], int] = {}
        self._emitted = False

    # The staleness rules ------------------------------------------------------------------------

    def months(self, team_id: int | None, months: Iterable[Month]) -> ChangeSet:
        if team_id is not None:
            self._months[team_id].update(months)
        return self

    def moments(self, team_id: int | None, *moments: Moment) -> ChangeSet:
        """Records dated at ``moments`` changed (pass old and new dates of a re-dated record).
        Unset dates (None) are ignored."""
        return self.months(team_id, (Month.of(moment) for moment in moments if moment is not None))

    def lesson(self, team_id: int | None, *documented_at: Moment) -> ChangeSet:
        """A lesson documented (or deleted, or re-dated: give old and new) at ``d`` changes the
        months from ``month(d)`` to ``month(d + 365 days)``: every window it is in."""
        for moment in documented_at:
            if moment is not None:
                self.months(team_id, Month.range(Month.of(moment), Month.of(moment + LESSON_WINDOW)))
        return self

    def application(self, team_id: int | None, applied_at: Moment, documented_at: Moment) -> ChangeSet:
        """An application (recorded, moved or withdrawn) of a lesson of ``team_id`` documented at
        ``documented_at`` changes that lesson's window months from ``month(applied_at)`` on."""
        if applied_at is None:
            return self
        if documented_at is None:
            return self.moments(team_id, applied_at)
        first = Month.of(applied_at)
        return self.months(team_id, Month.range(first, Month.of(documented_at + LESSON_WINDOW)))

    def failure(self, kind: str, record_id: int, team_id: int) -> ChangeSet:
        """A failure was recorded: repeat detection should compare it with earlier ones."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"Unknown failure kind {kind!r}")
        self._failures[(kind, record_id)] = team_id
        return self

    def merge(self, other: ChangeSet) -> ChangeSet:
        for team_id, months in other._months.items():
            self._months[team_id].update(months)
        self._failures.update(other._failures)
        return self

    # Reading and sending ------------------------------------------------------------------------

    def by_team(self) -> dict[int, frozenset[Month]]:
        return {team_id: frozenset(months) for team_id, months in self._months.items() if months}

    @property
    def failures(self) -> list[tuple[str, int, int]]:
        return [(kind, record_id, team_id) for (kind, record_id), team_id in self._failures.items()]

    def __bool__(self) -> bool:
        return bool(self.by_team() or self._failures)

    def emit(self) -> None:
        """Send everything once the current transaction commits (at once outside one). Emitting
        again is a no-op, so a ChangeSet announces its write exactly once.

        With a broker, the set is also stored in the outbox in the write's transaction and
        forgotten once delivered: if this process dies after the commit, or a receiver fails,
        a worker delivers it later (``learninghub.kernel.tasks.deliver_changes``)."""
        if self._emitted:
            return
        self._emitted = True
        if not self:
            return
        envelope = outbox.hold(DELIVER_TASK, self.to_payload())

        def deliver_changes() -> None:  # named: robust on_commit logs failures by __qualname__
            self.deliver()
            outbox.settle(envelope)

        transaction.on_commit(deliver_changes, robust=True)

    def to_payload(self) -> dict:
        """JSON-friendly form (``from_payload`` reads it back)."""
        return {
            "months": {str(team_id): sorted(month.key for month in months)
                       for team_id, months in self.by_team().items()},
            "failures": [list(failure) for failure in self.failures],
        }

    @classmethod
    def from_payload(cls, payload: dict) -> ChangeSet:
        changes = cls()
        for team_id, keys in payload.get("months", {}).items():
            changes.months(int(team_id), (Month.parse(key) for key in keys))
        for kind, record_id, team_id in payload.get("failures", []):
            changes.failure(kind, int(record_id), int(team_id))
        return changes

    def deliver(self) -> None:
        """Send the signals now (``emit`` does it on commit)."""
        for team_id, months in self.by_team().items():
            team_records_changed.send(sender=ChangeSet, team_id=team_id, months=months)
        for kind, record_id, team_id in self.failures:
            failure_recorded.send(sender=ChangeSet, kind=kind, record_id=record_id, team_id=team_id)


@contextmanager
def recording(changes: ChangeSet | None = None) -> Iterator[ChangeSet]:
    """The ChangeSet a service writes into: the caller's (who emits it), or a new one emitted when
    the block ends without an error."""
    if changes is not None:
        yield changes
        return
    changes = ChangeSet()
    yield changes
    changes.emit()
