"""Tags for the dashboards' big tables (the month-by-month table and each chart's data table).

A 60-month dashboard has thousands of cells; rendered through template loops they were most of
the page's server time, so these build the same markup in one pass with the standard escaping.
"""

from __future__ import annotations

from html import escape as _escape

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def escape(value) -> str:
    """Django's ``escape`` (the standard library's, quotes included) without its wrapping."""
    return _escape(str(value), quote=True)


def _link(text: str, url: str | None) -> str:
    return f'<a href="{escape(url)}">{escape(text)}</a>' if url else escape(text)


@register.simple_tag
def metric_cells(cells) -> SafeString:
    """``<td>`` of each :class:`~learninghub.insights.metrics.presenters.Cell`: its text linked to
    its records, and any further links (a figure made of records in two lists opens both)."""
    html = []
    for cell in cells:
        inner = _link(cell.text, cell.url)
        if cell.links:
            inner += ' <span class="cell-links">(' + " · ".join(_link(t, u) for t, u in cell.links) + ")</span>"
        html.append(f'<td class="num" title="{escape(cell.title)}">{inner}</td>')
    return mark_safe("".join(html))  # every value above is escaped


@register.simple_tag
def data_table(table: dict, table_id: str, caption: str) -> SafeString:
    """A chart's data as a table (see ``charts.data_table``): its text alternative."""
    columns = table["columns"]
    first, *rest = columns
    head = f'<th scope="col">{escape(first)}</th>' + "".join(f'<th scope="col" class="num">{escape(c)}</th>'
                                                             for c in rest)
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f'<td class="num">{escape(value)}</td>' for value in values) + "</tr>"
        for label, values in table["rows"])
    return mark_safe(  # every value above is escaped
        f'<table class="table data-table" id="{escape(table_id)}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
