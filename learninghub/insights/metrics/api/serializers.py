"""Metrics API shapes: query parameters in, one object per month out."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from learninghub.insights.metrics.models import MetricSnapshot
from learninghub.kernel.api.fields import TeamSlugField
from learninghub.kernel.periods import Month

MAX_API_MONTHS = 120


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-11"})
class MonthField(serializers.Field):
    """A calendar month written and read as YYYY-MM (``Month.parse``: one format, one range)."""

    default_error_messages = {"invalid": "Enter a month as YYYY-MM."}

    def to_internal_value(self, data) -> Month:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return Month.parse(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: Month | dt.date) -> str:
        return Month.of(value).key


class MonthRangeSerializer(serializers.Serializer):
    """``team`` (slug; absent: the organisation), ``from`` and ``to`` (YYYY-MM, inclusive)."""

    team = TeamSlugField(required=False, allow_null=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = MonthField(required=False)
        self.fields["to"] = MonthField(required=False)

    def validate(self, attrs):
        first, last = attrs.get("from"), attrs.get("to")
        if first and last and first > last:
            raise serializers.ValidationError({"to": ["The end month must not be before the start month."]})
        if first and len(Month.range(first, last or Month.current())) > MAX_API_MONTHS:
            raise serializers.ValidationError({"from": [f"Ask for at most {MAX_API_MONTHS} months at a time."]})
        return attrs


class MetricSnapshotSerializer(serializers.ModelSerializer):
    """Every metric of one month, the counts behind each ratio, and when and by which computation
    (``computed_by``: scheduled, edit, live or manual) it was computed."""

    month = MonthField(read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                        help_text="null: the whole organisation")
    postmortem_failures_by_mode = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    stale = serializers.BooleanField(source="is_stale", read_only=True,
                                     help_text="Records changed since; a recomputation is scheduled")

    class Meta:
        model = MetricSnapshot
        exclude = ["id", "dirty_version", "computed_version"]


class MetricsResponseSerializer(serializers.Serializer):
    team = serializers.CharField(allow_null=True, help_text="Team slug; null for the organisation")
    live = serializers.BooleanField(help_text="Some figures were computed in-process for this request")
    results = MetricSnapshotSerializer(many=True)


class RecomputeResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["scheduled", "computed", "nothing to compute"])
    team = serializers.CharField(allow_null=True)
    months = serializers.ListField(child=serializers.CharField())
