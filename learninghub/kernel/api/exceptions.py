"""API error shape: DRF's, plus domain errors raised by services mapped to proper statuses."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from learninghub.kernel.api.idempotency import IdempotentReplay
from learninghub.kernel.concurrency import StaleVersionError


class DomainConflictError(Exception):
    """A rule that depends on the state of a record (e.g. voting in a closed cycle): 409."""


def exception_handler(exc, context):
    if isinstance(exc, IdempotentReplay):
        return exc.response()
    if isinstance(exc, StaleVersionError):
        request = context.get("request")
        uses_if_match = request is not None and request.headers.get("If-Match")
        code = status.HTTP_412_PRECONDITION_FAILED if uses_if_match else status.HTTP_409_CONFLICT
        return Response(
            {"detail": str(exc), "version": [str(exc)], "current_version": exc.current_version}, status=code
        )
    if isinstance(exc, DomainConflictError):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = ValidationError(detail=detail)
    return drf_exception_handler(exc, context)
