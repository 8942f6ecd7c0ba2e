"""The API's error answers, declared once for every operation of the OpenAPI schema.

Every error the API gives is JSON (see :mod:`learninghub.kernel.api.exceptions` and the request
guard): ``{"detail": "…"}`` for errors of the whole request, ``{"<field>": ["…"], …}`` for field
errors (nested for nested records), and the guard's ``{"detail": …, "field": …}``. Which statuses
an operation may answer follows from the edges it passes, not from the view, so a
drf-spectacular postprocessing hook adds them to each operation instead of a decorator on each
view:

- any request: 400 (the request guard: NUL bytes, lone surrogates, invalid filters), 401 (no or a
  bad token), 403 (the policy, CSRF on session writes), 404 (a record not visible, a page past
  the end, an unknown ``format``), 406 (an ``Accept`` no renderer offers), 429 (failed tokens
  from one address);
- requests with a body (POST, PUT, PATCH): 409 (a domain conflict, an idempotency key in use),
  413 (too big), 415 (a content type no parser reads);
- creates (POST): 422 (an ``Idempotency-Key`` reused with another body);
- updates and deletes (PUT, PATCH, DELETE): 409 (a stale ``version``), 412 (a stale ``If-Match``).

An operation that documents a status itself (e.g. a 400 with a description) keeps its own.
"""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error: ``detail`` for the whole request, otherwise field names with their messages "
                   "(lists of strings, or nested objects for nested records).",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong with the request as a whole."},
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "Invalid input: field errors, or ``detail`` for the request as a whole",
    401: "Not signed in, or an invalid token",
    403: "Not allowed to do this",
    404: "Not found (or not visible to the caller), or a page past the end",
    406: "None of the accepted media types can be produced",
    409: "Conflict with the record's current state (e.g. a stale version, or an idempotency key in use)",
    412: "The If-Match version is not the current one",
    413: "The request body is too large",
    415: "Unsupported request content type",
    422: "The Idempotency-Key was already used with a different request body",
    429: "Too many failed attempts; retry later",
}
EVERY_REQUEST = (400, 401, 403, 404, 406, 429)
WITH_BODY = (409, 413, 415)
BY_METHOD: dict[str, tuple[int, ...]] = {
    "get": EVERY_REQUEST,
    "post": (*EVERY_REQUEST, *WITH_BODY, 422),
    "put": (*EVERY_REQUEST, *WITH_BODY, 412),
    "patch": (*EVERY_REQUEST, *WITH_BODY, 412),
    "delete": (*EVERY_REQUEST, 409, 412),
}


def error_response(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
    }


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the shared error answers on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in BY_METHOD.get(method, ()):
                existing = responses.get(str(status))
                if existing is None:
                    responses[str(status)] = error_response(status)
                elif "content" not in existing:  # a description only: give it the error body
                    existing["content"] = error_response(status)["content"]
    return result
