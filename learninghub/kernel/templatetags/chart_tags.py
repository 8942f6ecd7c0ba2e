"""``{% data_table %}``: a chart's data as a table, its text alternative (``partials/_chart.html``).

A 60-month dashboard shows thousands of these cells; through template loops they were a large
part of the page's server time, so the tag builds the markup in one pass, every value escaped.
"""

from __future__ import annotations

from html import escape as _escape

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def escape(value) -> str:
    """Django's ``escape`` (the standard library's, quotes included) without its wrapping."""
    return _escape(str(value), quote=True)


@register.simple_tag
def data_table(table: dict, table_id: str, caption: str) -> SafeString:
    """``table`` is ``{"columns": [first heading, *value headings], "rows": [(label, [values])]}``."""
    first, *rest = table["columns"]
    head = f'<th scope="col">{escape(first)}</th>' + "".join(f'<th scope="col" class="num">{escape(c)}</th>'
                                                             for c in rest)
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f'<td class="num">{escape(value)}</td>' for value in values) + "</tr>"
        for label, values in table["rows"])
    return mark_safe(  # every value above is escaped
        f'<table class="table data-table" id="{escape(table_id)}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
