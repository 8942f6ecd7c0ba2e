"""Portable SQL pieces the engine needs beyond Django's built-ins: hours between two moments as a
number, and the continuous percentile (PostgreSQL's ``percentile_cont``).

SQLite has no ``percentile_cont``; like Django does for ``STDDEV_POP``, a Python aggregate with
the same interpolation is registered on every SQLite connection, so the engine's queries are
the same ORM code on both databases and the grouping stays in the database.
"""

from __future__ import annotations

import math

from django.db import NotSupportedError
from django.db.models import Aggregate, FloatField, Func


class HoursBetween(Func):
    """``end − start`` in hours, as a float (NULL when either is NULL)."""

    arity = 2
    output_field = FloatField()

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, arg_joiner=" - ",
                           template="(EXTRACT(EPOCH FROM (%(expressions)s))::double precision / 3600.0)",
                           **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django's own SQLite function: the exact difference in microseconds.
        return self.as_sql(compiler, connection, arg_joiner=", ",
                           template="(django_timestamp_diff(%(expressions)s) / 3600000000.0)", **extra_context)

    def as_sql(self, compiler, connection, **extra_context):
        if "template" not in extra_context:
            raise NotSupportedError("HoursBetween supports PostgreSQL and SQLite only.")
        return super().as_sql(compiler, connection, **extra_context)


class Percentile(Aggregate):
    """Continuous percentile with linear interpolation (``percentile_cont``); NULLs are ignored."""

    name = "Percentile"
    function = "PERCENTILE_CONT"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        self.fraction = float(fraction)
        super().__init__(expression, **extra)

    def as_postgresql(self, compiler, connection, **extra_context):
        template = f"%(function)s({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        template = f"LH_PERCENTILE_CONT(%(expressions)s, {self.fraction!r})%(filter)s"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """The same interpolation as PostgreSQL: position ``fraction × (n − 1)`` in the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


class _SQLitePercentile:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction) -> None:
        if value is not None:
            self.values.append(float(value))
        self.fraction = float(fraction)

    def finalize(self) -> float | None:
        return percentile_cont(self.values, self.fraction)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: add LH_PERCENTILE_CONT to SQLite connections."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("LH_PERCENTILE_CONT", 2, _SQLitePercentile)
