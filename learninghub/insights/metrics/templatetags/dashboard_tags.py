"""``{% metric_cells %}``: the cells of the dashboards' tables (month by month, teams).

A 60-month dashboard has over a thousand of them; rendered through template loops they were a
large part of the page's server time, so the tag builds the same markup in one pass.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from learninghub.kernel.templatetags.chart_tags import escape

register = template.Library()


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
