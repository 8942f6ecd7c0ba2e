"""Error answers: JSON under ``/api/`` (``{"detail": …}``, like DRF's own), Django's HTML pages
elsewhere. Wired as ``handler400/403/404/500`` in the URLconf and as ``CSRF_FAILURE_VIEW``."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import csrf, defaults

from learninghub.kernel.headers import header_text
from learninghub.kernel.middleware import is_api_request

lockout_logger = logging.getLogger("learninghub.security")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


# Seconds a client is told to wait when the database is unreachable.
DATABASE_RETRY_AFTER = 5


def server_error(request: HttpRequest) -> HttpResponse:
    """500, or 503 with ``Retry-After`` when the cause is the database being unreachable (Django
    calls this handler while the exception is being handled, so ``sys.exc_info`` names it)."""
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        response = JsonResponse({"detail": "The database is unavailable; try again shortly."}, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
    if is_api_request(request):
        return JsonResponse({"detail": "Server error: it has been logged."}, status=500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": f"CSRF failed: {reason}"}, status=403)
    return csrf.csrf_failure(request, reason=reason)


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' lockout answer (``AXES_LOCKOUT_CALLABLE``): 429, a page that says how long,
    JSON under ``/api/``; the lockout is logged."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    lockout_logger.warning("Sign-in locked out: username=%r ip=%s path=%s", header_text(str(username), 150),
                           request.META.get("REMOTE_ADDR"), request.path)
    message = f"Too many failed sign-ins. Try again in {minutes} minutes."
    if is_api_request(request) or request.headers.get("x-requested-with") == "XMLHttpRequest":
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html",
                          {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
