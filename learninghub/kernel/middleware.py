"""Request-level guards: hostile input is refused at the edge, before any view, form or
serializer sees it, so no field can forget a check and no input can turn into a 500.

- NUL bytes and lone surrogates (in query strings, form data and JSON bodies, keys and values)
  cannot be stored by PostgreSQL or encoded as UTF-8: 400 naming the field.
- JSON nested deeper than :data:`MAX_JSON_DEPTH`, integers beyond 64 bits, non-finite numbers:
  400 naming the field.
- Moments (ISO dates and times, wherever they appear) with unreal UTC offsets or outside the
  years the app can store: 400 naming the field.
- Bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE``: 413.

Answers are JSON under ``/api/`` and an HTML page elsewhere.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control

from learninghub.kernel.dates import moment_problem
from learninghub.kernel.periods import MAX_YEAR, MIN_YEAR

MAX_JSON_DEPTH = 32
MAX_INTEGER = 2**63 - 1
# Free-text query parameters: a long run of digits there is text, not an integer.
TEXT_PARAMETERS = frozenset({"q", "search"})
BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
# ASCII digits and blanks only: int() refuses some of what \s and \d match (e.g. "\x1f", a 500 before).
INTEGER = re.compile(r"^[ \t]*[+-]?[0-9]+[ \t]*$")
JSON_CONTENT_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$", re.IGNORECASE)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def printable_name(name: str) -> str:
    """A field name safe to echo back (the name itself may be the hostile part)."""
    return BAD_CHARACTERS.sub("\ufffd", name) or "non_field_errors"


def text_problem(value: str) -> str | None:
    match = BAD_CHARACTERS.search(value)
    if match is None:
        return None
    if match.group() == "\x00":
        return "Null characters are not allowed."
    return "Remove the lone surrogate (\\ud800–\\udfff): it is not a character."


class InputProblem(Exception):
    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = printable_name(field), message, status


def _check_text(field: str, value: str, *, moments: tuple[int, int], integers: bool) -> None:
    if problem := text_problem(value):
        raise InputProblem(field, problem)
    if problem := moment_problem(value, min_year=moments[0], max_year=moments[1]):
        raise InputProblem(field, problem)
    if integers and INTEGER.match(value) and abs(int(value)) > MAX_INTEGER:
        raise InputProblem(field, f"Give a whole number between {-MAX_INTEGER} and {MAX_INTEGER}.")


def _check_pairs(pairs: Iterator[tuple[str, list[str]]], *, moments: tuple[int, int], query: bool) -> None:
    for key, values in pairs:
        if problem := text_problem(key):
            raise InputProblem(key, problem)
        for value in values:
            _check_text(key, value, moments=moments, integers=query and key not in TEXT_PARAMETERS)


def _path(parts: tuple) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "non_field_errors"


def check_json_value(document: Any, *, moments: tuple[int, int] = (MIN_YEAR, MAX_YEAR)) -> None:
    """Walk a parsed JSON document without recursion (its depth is what is being checked)."""
    stack: list[tuple[tuple, Any, int]] = [((), document, 1)]
    while stack:
        path, value, depth = stack.pop()
        field = str(path[0]) if path else "non_field_errors"
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise InputProblem(field, f"Nested deeper than {MAX_JSON_DEPTH} levels.")
            if isinstance(value, dict):
                for key, item in value.items():
                    if problem := text_problem(key):
                        raise InputProblem(_path((*path, key)), problem)
                    stack.append(((*path, key), item, depth + 1))
            else:
                stack.extend(((*path, index), item, depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str):
            try:
                _check_text(field, value, moments=moments, integers=False)
            except InputProblem as exc:
                exc.field = printable_name(_path(path))
                raise
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int) and abs(value) > MAX_INTEGER:
            raise InputProblem(_path(path), f"Give a whole number between {-MAX_INTEGER} and {MAX_INTEGER}.")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InputProblem(_path(path), "Give a finite number.")


def inspect_request(request: HttpRequest) -> None:
    """Raise :class:`InputProblem` for the first hostile part of the request."""
    _check_pairs(request.GET.lists(), moments=(1, 9999), query=True)
    if request.method not in BODY_METHODS:
        return
    content_type = request.content_type or ""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if content_type.startswith("multipart/"):
        if request.method == "POST":
            _check_pairs(request.POST.lists(), moments=(MIN_YEAR, MAX_YEAR), query=False)
        return
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    if content_type == "application/x-www-form-urlencoded" and request.method == "POST":
        _check_pairs(request.POST.lists(), moments=(MIN_YEAR, MAX_YEAR), query=False)
    elif JSON_CONTENT_TYPE.match(content_type):
        try:
            document = json.loads(request.body)
        except RecursionError as exc:
            raise InputProblem("non_field_errors", f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from exc
        except ValueError:
            return  # not JSON: the parser answers that
        check_json_value(document)


def problem_response(request: HttpRequest, field: str, message: str, status: int) -> HttpResponse:
    if is_api_request(request):
        body = {"detail": message} if field == "detail" else {"detail": f"{field}: {message}", field: [message]}
        return JsonResponse(body, status=status)
    html = render_to_string("errors/bad_request.html", {"status": status, "field": field, "message": message},
                            request=request)
    return HttpResponse(html, status=status)


class RequestGuardMiddleware:
    """See the module docstring. Place it right after ``SecurityMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            inspect_request(request)
        except InputProblem as exc:
            return problem_response(request, exc.field, exc.message, exc.status)
        except RequestDataTooBig:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return problem_response(request, "detail", f"The request body is larger than {limit} bytes.", 413)
        except SuspiciousOperation as exc:  # too many fields, bad multipart boundary, …
            return problem_response(request, "detail", str(exc) or "Malformed request.", 400)
        return self.get_response(request)


class PrivatePagesMiddleware:
    """``Cache-Control: private, no-store`` on the HTML pages of a signed-in person: no shared
    cache (or the browser's back button after sign-out) keeps a copy of someone's records."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated
                and response.get("Content-Type", "").startswith("text/html")):
            patch_cache_control(response, private=True, no_store=True)
        return response
