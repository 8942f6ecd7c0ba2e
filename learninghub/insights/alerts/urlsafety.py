"""Which webhook URLs the app may post to: http(s) only, and never a private-network address
(so the app can't be used to probe an internal network) unless ``ALERT_WEBHOOK_ALLOW_PRIVATE``.

Checked when a subscription is saved and again before every send (DNS may have changed).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


def allow_private() -> bool:
    return bool(getattr(settings, "ALERT_WEBHOOK_ALLOW_PRIVATE", False))


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def validate_webhook_url(url: str) -> str:
    """``url`` if the app may post to it; ValidationError saying why not otherwise."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError("Enter a valid URL.") from exc
    if parts.scheme not in {"http", "https"}:
        raise ValidationError("Webhook URLs must start with http:// or https://.")
    if not parts.hostname:
        raise ValidationError("Enter a URL with a host name.")
    if parts.username or parts.password:
        raise ValidationError("Put credentials in the webhook's secret, not in its URL.")
    if allow_private():
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(f"The host {parts.hostname!r} could not be resolved.") from exc
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_is_public(address) for address in addresses):
        raise ValidationError("Webhooks to private, loopback or link-local addresses are not allowed.")
    return url
