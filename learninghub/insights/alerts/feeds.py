"""The iCalendar (RFC 5545) feed of a person's action items: one all-day event per due date."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from postmortems.models import ActionItem

PRODID = "-//LearningHub//Action items//EN"


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with a leading space (RFC 5545 §3.1)."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts, start = [], 0
    limit = 75
    while start < len(encoded):
        end = min(start + limit, len(encoded))
        while end < len(encoded) and (encoded[end] & 0xC0) == 0x80:  # never split a UTF-8 character
            end -= 1
        parts.append(encoded[start:end].decode())
        start, limit = end, 74
    return "\r\n ".join(parts)


def action_items_ics(user) -> str:
    items = (ActionItem.objects.visible_to(user).filter(owner=user, due_date__isnull=False)
             .select_related("postmortem").order_by("due_date", "pk"))
    stamp = timezone.now().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0] or "learninghub"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             "X-WR-CALNAME:LearningHub action items"]
    for item in items.iterator(chunk_size=500):
        done = item.status in ("done", "wont_do")
        lines += [
            "BEGIN:VEVENT",
            f"UID:action-item-{item.pk}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{item.due_date:%Y%m%d}",
            f"DTEND;VALUE=DATE:{item.due_date + dt.timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_escape(('Done: ' if done else 'Due: ') + item.description[:200])}",
            f"DESCRIPTION:{_escape(f'Post-mortem: {item.postmortem.title}. Status: {item.get_status_display()}.')}",
            f"URL:{settings.SITE_URL}{item.get_absolute_url()}",
            f"STATUS:{'CANCELLED' if item.status == 'wont_do' else 'CONFIRMED'}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
