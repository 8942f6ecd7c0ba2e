"""DRF authentication with hashed personal API tokens: ``Authorization: Token <key>``.

Guessing tokens is throttled per client IP: after ``TOKEN_AUTH_FAILURE_LIMIT`` failed tokens
within ``TOKEN_AUTH_FAILURE_WINDOW``, every token request from that IP answers 429 (with
``Retry-After``) until the window ends; the first refusal is logged. Windows are fixed slots of
the clock (the slot number is part of the cache key), so the count follows ``timezone.now()``
rather than the cache's own expiry, and a new slot starts from zero.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions

from learninghub.kernel.models import ApiToken, hash_token_key

logger = logging.getLogger("learninghub.security")


def _failures_key(request, window: int) -> tuple[str, int]:
    """The cache key counting this address's failures in the current slot, and the seconds left."""
    now = timezone.now().timestamp()
    slot = int(now // window)
    return f"token-auth-failures:{request.META.get('REMOTE_ADDR', '')}:{slot}", int((slot + 1) * window - now) + 1


class HashedTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        if not authentication.get_authorization_header(request):
            return None
        window = max(1, int(settings.TOKEN_AUTH_FAILURE_WINDOW.total_seconds()))
        key, seconds_left = _failures_key(request, window)
        failures = cache.get(key, 0)
        if failures >= settings.TOKEN_AUTH_FAILURE_LIMIT:
            if failures == settings.TOKEN_AUTH_FAILURE_LIMIT:
                cache.incr(key)  # log once per window, not on every refused request
                logger.warning("API token auth throttled: ip=%s after %s failures", request.META.get("REMOTE_ADDR"),
                               failures)
            raise exceptions.Throttled(wait=seconds_left, detail="Too many failed API tokens from this address.")
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            if cache.add(key, 1, timeout=window) is False:
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.add(key, 1, timeout=window)
            raise

    def authenticate_credentials(self, key: str):
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token_key(key)).first()
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        # Record use at most once a minute: avoids a write on every request of a busy script.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
