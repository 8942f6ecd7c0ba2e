"""Template helpers for post-mortem pages."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def duration(value: dt.timedelta | None) -> str:
    """A timedelta as people say it: "3 d 4 h", "3 h 45 min", "12 min"."""
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60)
    if minutes < 0:
        return "—"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


@register.simple_tag
def can_change_item(user, item) -> bool:
    """The owner and the post-mortem team's members may change an action item's status."""
    return item.may_be_changed_by(user)
