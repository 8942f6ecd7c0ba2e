"""Template filters for the registry's pages."""

from django import template

from experiments.formatting import format_duration, format_metric

register = template.Library()


@register.filter
def duration(value) -> str:
    return format_duration(value)


@register.filter
def metric(value) -> str:
    return format_metric(value)
