"""FilterSets shared by the award pages and the API. Cycles are named by month, ``YYYY-MM``
(``Month.parse``); an invalid value is a form error on pages and a 400 in the API, never a 500."""

from __future__ import annotations

from datetime import date

import django_filters
from django import forms
from django.contrib.auth import get_user_model

from awards.models import AwardCategory, AwardCycle, CycleState, Nomination, Vote
from learninghub.kernel.periods import Month


class MonthField(forms.CharField):
    """A cycle's month as YYYY-MM; cleans to the first day, which the cycles store."""

    def to_python(self, value) -> date | None:
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return Month.parse(value).first_day
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


class MonthFilter(django_filters.Filter):
    field_class = MonthField


class StrictBooleanField(forms.CharField):
    """``true``/``false`` (also 1/0, yes/no); anything else is an error rather than "no filter"."""

    default_error_messages = {"invalid": "Give true or false."}
    VALUES = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return self.VALUES[value.strip().lower()]
        except KeyError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class CategoryFilter(django_filters.FilterSet):
    active = StrictBooleanFilter(field_name="is_active")

    class Meta:
        model = AwardCategory
        fields = ["active"]


class CycleFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=CycleState.choices, empty_label="Any state")
    year = django_filters.NumberFilter(field_name="month__year", label="Year", min_value=1, max_value=9999)

    class Meta:
        model = AwardCycle
        fields = ["state", "year"]


class NominationFilter(django_filters.FilterSet):
    cycle = MonthFilter(field_name="cycle__month", help_text="YYYY-MM")
    category = django_filters.ModelChoiceFilter(queryset=AwardCategory.objects.all(), to_field_name="slug")
    nominee = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.all(), to_field_name="username")

    class Meta:
        model = Nomination
        fields = ["cycle", "category", "nominee"]


class VoteFilter(django_filters.FilterSet):
    cycle = MonthFilter(field_name="cycle__month", help_text="YYYY-MM")
    category = django_filters.ModelChoiceFilter(queryset=AwardCategory.objects.all(), to_field_name="slug")

    class Meta:
        model = Vote
        fields = ["cycle", "category"]


class HallOfFameForm(forms.Form):
    """The hall of fame's filters (it lists people, not rows of one model)."""

    search = forms.CharField(required=False, max_length=100, label="Person",
                             widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or username"}))
    category = forms.ModelChoiceField(queryset=AwardCategory.objects.order_by("position", "name"), required=False,
                                      to_field_name="slug", empty_label="All categories")
