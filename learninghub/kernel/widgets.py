"""The type-ahead picker: a foreign key chosen by typing, for fields whose choices are far too many
to render (every experiment of the organisation, every post-mortem, a team's members).

The field stays a ``ModelChoiceField`` whose queryset is what the user may pick, so a submitted id
is validated against it; the widget never iterates that queryset. It renders a search box showing
the chosen record's label (one query, or none when ``labels`` already holds it), a hidden input
carrying the id, and an empty list that ``static/js/picker.js`` fills from the JSON endpoint named
by the enclosing form's ``data-pick-url`` attribute (the templates set it, so no app names the
search app in Python).
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.http import urlencode


class PickerInput(forms.Widget):
    """``kind`` is what the endpoint searches (``experiment``, ``postmortem``, ``user``); ``params``
    narrow it (``outcome``, ``team``, ``team_id``, ``exclude``); ``team_field`` names a field of the
    same form whose current value is sent as ``team_id`` (the team chosen while creating)."""

    def __init__(self, kind: str, *, params: dict[str, Any] | None = None, team_field: str = "",
                 placeholder: str = "Type to search…", attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.kind = kind
        self.params = dict(params or {})
        self.team_field = team_field
        self.placeholder = placeholder
        self.choices: Any = ()
        self.labels: dict[str, str] | None = None

    def __deepcopy__(self, memo):
        obj = super().__deepcopy__(memo)
        obj.params = copy.copy(self.params)
        return obj

    def selected_label(self, value: Any) -> str:
        """The chosen record's label, or "" when nothing (or nothing the user may pick) is chosen."""
        if value in (None, ""):
            return ""
        key = str(value)
        if self.labels is not None:
            return self.labels.get(key, "")
        field = getattr(self.choices, "field", None)
        if field is None or field.queryset is None:
            return ""
        try:
            record = field.queryset.filter(**{field.to_field_name or "pk": key}).first()
        except (TypeError, ValueError, ValidationError):
            return ""
        return field.label_from_instance(record) if record is not None else ""

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer=None) -> str:
        final = self.build_attrs(self.attrs, attrs)
        input_id = final.pop("id", None) or f"id_{name}"
        final.pop("required", None)  # the visible box is a search, not the value
        label = self.selected_label(value)
        query = urlencode({key: value for key, value in self.params.items() if value not in (None, "")})
        return format_html(
            '<div class="picker" data-picker="{kind}" data-picker-query="{query}" data-picker-team-field="{team}">'
            '<input type="search" id="{id}" class="picker-input" value="{label}" placeholder="{placeholder}" '
            'autocomplete="off" role="combobox" aria-autocomplete="list" aria-expanded="false" '
            'aria-controls="{id}-results" data-picker-input{attrs}>'
            '<input type="hidden" name="{name}" value="{value}" data-picker-value>'
            '<ul class="picker-results" id="{id}-results" role="listbox" data-picker-results hidden></ul>'
            "</div>",
            kind=self.kind, query=query, team=self.team_field, id=input_id, label=label,
            placeholder=self.placeholder, attrs=flatatt(final), name=name, value=str(value) if label else "",
        )
