"""``{% load markdown_tags %}{{ text|markdown }}``: Markdown rendered to sanitised HTML."""

from django import template
from django.utils.safestring import SafeString

from learninghub.kernel.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str | None) -> SafeString:
    return render_markdown(text)
