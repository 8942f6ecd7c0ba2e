"""Filter pieces shared by the apps' FilterSets (pages and API use the same ones).

Date bounds share one vocabulary: ``X_after`` is on or after (>=), ``X_before`` strictly before
(<). A moment bound takes a full ISO date and time, read exactly and compared in UTC (what the
dashboards' drill-down links send, from ``Month.query_bounds``), or a bare date, read as
midnight in the site's time zone (what a person types). Invalid values are form errors (a 400 in
the API), never a 500.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from learninghub.kernel.choices import UNSPECIFIED
from learninghub.kernel.dates import parse_moment
from learninghub.kernel.models import Team


class TeamFilter(django_filters.ModelChoiceFilter):
    """A team given by its slug; an unknown slug is a validation error (400 in the API)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("queryset", Team.objects.order_by("name"))
        kwargs.setdefault("to_field_name", "slug")
        kwargs.setdefault("empty_label", "All teams")
        super().__init__(*args, **kwargs)


class MomentField(forms.CharField):
    """An aware UTC datetime from an ISO date and time, or from a date (local midnight)."""

    widget = forms.DateInput(attrs={"type": "date"})
    default_error_messages = {"invalid": "Enter a date as YYYY-MM-DD (or a full ISO datetime)."}

    def to_python(self, value) -> dt.datetime | None:
        value = super().to_python(value)
        if not value:
            return None
        moment = parse_moment(value)
        if moment is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return moment.astimezone(dt.UTC)


class DayField(forms.CharField):
    """A calendar day (for date fields such as due dates): YYYY-MM-DD exactly, in every time
    zone; an ISO datetime is cut to its day as written."""

    widget = forms.DateInput(attrs={"type": "date"})
    default_error_messages = MomentField.default_error_messages

    def to_python(self, value) -> dt.date | None:
        value = super().to_python(value)
        if not value:
            return None
        try:
            day = parse_date(value.strip())
        except ValueError:
            day = None
        if day is None:
            moment = parse_moment(value)
            if moment is None:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            day = moment.date()
        return day


@extend_schema_field({"oneOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]})
class MomentFilter(django_filters.Filter):
    field_class = MomentField


@extend_schema_field(OpenApiTypes.DATE)
class DayFilter(django_filters.Filter):
    field_class = DayField


class ChoiceOrUnspecifiedFilter(django_filters.ChoiceFilter):
    """One of ``choices``, or ``unspecified``: blank or no longer a known choice, the records the
    dashboards count under "Unspecified" (so that bar's link lists exactly them)."""

    def __init__(self, *args, choices, **kwargs):
        self.known = [value for value, _label in choices]
        super().__init__(*args, choices=[*choices, (UNSPECIFIED, "Unspecified")], **kwargs)

    def filter(self, qs, value):
        if value == UNSPECIFIED:
            return qs.exclude(**{f"{self.field_name}__in": self.known})
        return super().filter(qs, value)
