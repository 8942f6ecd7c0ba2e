"""Repeat detection on the apps' pages, which may not import insights: ``{% load repeats_tags %}``
then ``{% review_banner experiment %}`` shows the banner of a record under review (a suspected
repeat waiting for a lead) or a confirmed repeat of the other kind, with what the earlier failure
taught. A template tag is looked up by name at render time, so the apps stay free of the import."""

from __future__ import annotations

from django import template

from learninghub.insights.repeats import selectors

register = template.Library()


@register.inclusion_tag("repeats/_review_banner.html", takes_context=True)
def review_banner(context: template.Context, record) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    note = selectors.review_note(record, user=user) if user is not None else None
    return {"note": note, "record": record, "request": request}
