"""Which outbound URLs the app may call on a user's say-so (webhooks, MLflow tracking servers).

A URL someone types in is later fetched by the server, so without a check the app becomes a way to
probe the internal network (SSRF). The rule, once: http(s) only, no credentials in the URL, and
every address the host resolves to public — unless the caller says private addresses are fine
(an operator's switch) or the host is on an operator's allow-list. Callers check when the URL is
saved and again before each use (DNS may have changed in between).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def host_allowed(hostname: str, allowed_hosts: Iterable[str]) -> bool:
    """``hostname`` is on the allow-list: an exact name, ``*`` (anything), or ``.example.com``
    (that domain and its subdomains), compared case-insensitively."""
    hostname = hostname.lower().rstrip(".")
    for pattern in (entry.strip().lower() for entry in allowed_hosts):
        if not pattern:
            continue
        if pattern == "*" or pattern == hostname:
            return True
        if pattern.startswith(".") and (hostname == pattern[1:] or hostname.endswith(pattern)):
            return True
    return False


def validate_outbound_url(url: str, *, what: str, allow_private: bool = False,
                          allowed_hosts: Iterable[str] = ()) -> str:
    """``url`` (stripped) if the app may call it; a ValidationError saying why not otherwise.

    ``what`` names the URL in messages ("Webhook URLs", "Tracking server URLs").
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError("Enter a valid URL.") from exc
    if parts.scheme not in {"http", "https"}:
        raise ValidationError(f"{what} must start with http:// or https://.")
    if not parts.hostname:
        raise ValidationError("Enter a URL with a host name.")
    if parts.username or parts.password:
        raise ValidationError("Credentials don't belong in the URL.")
    if allow_private or host_allowed(parts.hostname, allowed_hosts):
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(f"The host {parts.hostname!r} could not be resolved.") from exc
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(is_public_address(address) for address in addresses):
        raise ValidationError(f"{what} pointing at private, loopback or link-local addresses are not allowed.")
    return url
