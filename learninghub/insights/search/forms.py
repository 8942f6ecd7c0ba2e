"""The search parameters, validated once for the page (a form) and the API (a serializer)."""

from __future__ import annotations

from django import forms
from rest_framework import serializers

from experiments.models import Outcome
from learninghub.insights.search.models import DocumentKind
from learninghub.insights.search.query import MAX_QUERY_LENGTH
from learninghub.insights.search.selectors import SearchFilters
from learninghub.kernel.choices import FailureMode
from learninghub.kernel.models import Team
from learninghub.kernel.periods import Month

TOO_LONG = "Search for at most %(limit_value)d characters (this is %(show_value)d): shorten the query."


def _any(choices) -> list[tuple[str, str]]:
    return [("", "Any"), *choices]


def parse_period(value: str) -> Month | None:
    """``YYYY-MM`` → Month (None when blank); ValueError with a readable message otherwise."""
    return Month.parse(value) if value else None


class SearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=MAX_QUERY_LENGTH, strip=True,
                        error_messages={"max_length": TOO_LONG})
    kind = forms.ChoiceField(label="Type", required=False, choices=_any(DocumentKind.choices))
    team = forms.ModelChoiceField(label="Team", required=False, queryset=Team.objects.order_by("name"),
                                  to_field_name="slug", empty_label="Any")
    outcome = forms.ChoiceField(required=False, choices=_any(Outcome.choices))
    failure_mode = forms.ChoiceField(required=False, choices=_any(FailureMode.choices))
    period = forms.CharField(label="Month", required=False, help_text="YYYY-MM")

    def clean_period(self) -> Month | None:
        try:
            return parse_period(self.cleaned_data["period"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def search_filters(self) -> SearchFilters:
        data = self.cleaned_data
        return SearchFilters(team=data.get("team"), kind=data.get("kind", ""), outcome=data.get("outcome", ""),
                             failure_mode=data.get("failure_mode", ""), period=data.get("period"))


class SearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_QUERY_LENGTH,
                              error_messages={"max_length": TOO_LONG},
                              help_text="Words (all must match), \"a phrase\", -exclude, a OR b.")
    kind = serializers.ChoiceField(required=False, allow_blank=True, default="", choices=DocumentKind.choices)
    team = serializers.SlugRelatedField(required=False, allow_null=True, default=None, slug_field="slug",
                                        queryset=Team.objects.all(), help_text="Team slug")
    outcome = serializers.ChoiceField(required=False, allow_blank=True, default="", choices=Outcome.choices)
    failure_mode = serializers.ChoiceField(required=False, allow_blank=True, default="",
                                           choices=FailureMode.choices)
    period = serializers.CharField(required=False, allow_blank=True, default="", help_text="Month, YYYY-MM")
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    page_size = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)

    def validate_q(self, value: str) -> str:
        return value.strip()

    def validate_period(self, value: str) -> Month | None:
        try:
            return parse_period(value.strip())
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def search_filters(self) -> SearchFilters:
        data = self.validated_data
        return SearchFilters(team=data["team"], kind=data["kind"], outcome=data["outcome"],
                             failure_mode=data["failure_mode"], period=data["period"])
