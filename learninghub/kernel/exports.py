"""Streaming CSV for list exports: rows are written as they are read, so memory stays constant
whatever the number of rows (pass a ``.iterator()``)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from django.http import HttpResponse, StreamingHttpResponse

# A cell starting with one of these is a formula to a spreadsheet (CSV injection): prefix it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose ``write`` hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # the BOM makes spreadsheet apps read UTF-8
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def csv_response(header: Sequence[str], rows: Iterable[Sequence], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def invalid_filters_response(filterset) -> HttpResponse:
    """A 400 naming the filters that were not understood (never an export of the wrong rows)."""
    errors = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in filterset.errors.items())
    return HttpResponse(f"Invalid filters: {errors}\n", status=400, content_type="text/plain; charset=utf-8")
