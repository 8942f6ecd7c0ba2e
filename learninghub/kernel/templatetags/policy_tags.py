"""The access policy in templates: ``{% can_write user team_id as may_edit %}``, so pages decide
what to offer with the same rule the services enforce."""

from __future__ import annotations

from django import template

from learninghub.kernel import policy

register = template.Library()


@register.simple_tag
def can_write(user, team) -> bool:
    return policy.can_write(user, team)


@register.simple_tag
def can_lead(user, team) -> bool:
    return policy.can_lead(user, team)
