"""``Idempotency-Key`` on API creates: a retried create answers the first response again.

The first request with a key records it (in progress); when it succeeds (2xx) its status and
body are stored, and the same key with the same body answers them again (with
``Idempotent-Replayed: true``) for 24 hours. The same key with a different body is a 422; while the
first request is still running, a second one is a 409. A first request that fails (4xx, 5xx)
releases the key, so the client may correct the body and retry with it.
"""

from __future__ import annotations

import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from learninghub.kernel.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_key_reused"


class IdempotencyKeyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still in progress; retry in a moment."
    default_code = "idempotency_key_in_progress"


class IdempotentReplay(Exception):
    """Raised before the view runs; the exception handler answers the stored response."""

    def __init__(self, record: IdempotencyKey) -> None:
        super().__init__(record.key)
        self.record = record

    def response(self) -> Response:
        response = Response(self.record.response_body, status=self.record.status_code)
        response["Idempotent-Replayed"] = "true"
        return response


def request_hash(request: Request) -> str:
    data = request.data
    if hasattr(data, "lists"):
        data = dict(data.lists())
    canonical = json.dumps([request.method, request.path, data], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def begin(request: Request) -> IdempotencyKey | None:
    """The in-progress record for this request's key (None without a key); raises
    :class:`IdempotentReplay`, :class:`IdempotencyKeyReused` or :class:`IdempotencyKeyInProgress`."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError({HEADER: [f"At most {MAX_KEY_LENGTH} characters."]})
    digest = request_hash(request)
    IdempotencyKey.objects.expired().filter(user=request.user, key=key).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=request.user, key=key, request_hash=digest)
    except IntegrityError:
        pass
    record = IdempotencyKey.objects.filter(user=request.user, key=key).first()
    if record is None:  # released by a failed first request a moment ago
        raise IdempotencyKeyInProgress()
    if record.request_hash != digest:
        raise IdempotencyKeyReused()
    if record.status_code is None:
        raise IdempotencyKeyInProgress()
    raise IdempotentReplay(record)


def finish(record: IdempotencyKey, response: Response | None) -> None:
    """Store a successful answer, or release the key when the request failed."""
    data = getattr(response, "data", None) if response is not None else None
    if response is not None and 200 <= response.status_code < 300:
        try:
            body = json.loads(json.dumps(data, default=str))
        except (TypeError, ValueError):
            body = None
        IdempotencyKey.objects.filter(pk=record.pk).update(status_code=response.status_code, response_body=body)
    else:
        IdempotencyKey.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def purge_expired() -> int:
    return IdempotencyKey.objects.expired().delete()[0]
