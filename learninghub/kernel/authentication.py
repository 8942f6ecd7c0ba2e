"""DRF authentication with hashed personal API tokens: ``Authorization: Token <key>``."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from learninghub.kernel.models import ApiToken, hash_token_key


class HashedTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

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
