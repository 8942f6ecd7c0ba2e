"""Which webhook URLs the app may post to: the kernel's outbound-URL rule
(:mod:`learninghub.kernel.urlsafety`), with private-network addresses refused unless
``ALERT_WEBHOOK_ALLOW_PRIVATE``.

Checked when a subscription is saved and again before every send (DNS may have changed).
"""

from __future__ import annotations

from django.conf import settings

from learninghub.kernel.urlsafety import validate_outbound_url


def allow_private() -> bool:
    return bool(getattr(settings, "ALERT_WEBHOOK_ALLOW_PRIVATE", False))


def validate_webhook_url(url: str) -> str:
    """``url`` if the app may post to it; ValidationError saying why not otherwise."""
    return validate_outbound_url(url, what="Webhook URLs", allow_private=allow_private())
