"""FilterSets shared by the HTML lists and the API, with the project's shared parameter names.

Date bounds are the kernel's (``learninghub.kernel.filters``): ``X_after`` on or after,
``X_before`` strictly before; a full ISO date and time is read exactly (UTC), YYYY-MM-DD as
local midnight. Invalid values are form errors (a 400 in the API), never a 500.
"""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from experiments.models import Experiment, FailureKind, Lesson, LessonApplication, Outcome
from learninghub.kernel.choices import FailureMode
from learninghub.kernel.filters import ChoiceOrUnspecifiedFilter, MomentFilter, TeamFilter
from learninghub.kernel.search import search_filter

BOOLEAN_CHOICES = [("true", "Yes"), ("false", "No")]
FAILURE_KIND_CHOICES = [(value, label.split(" (")[0]) for value, label in FailureKind.choices]
SORT_CHOICES = [("-started_at", "Newest first"), ("started_at", "Oldest first")]


class YesNoFilter(django_filters.ChoiceFilter):
    """``true`` / ``false`` (anything else is an error, unlike a lenient boolean)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", BOOLEAN_CHOICES)
        kwargs.setdefault("empty_label", "Any")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        return self.apply(qs, value == "true")

    def apply(self, qs, value: bool):
        return qs.filter(**{self.field_name: value})


class HasRelationFilter(YesNoFilter):
    """true: ``field_name`` is set; false: it is not."""

    def apply(self, qs, value: bool):
        return qs.filter(**{f"{self.field_name}__isnull": not value})


class ExperimentFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Search",
                                       help_text="Title, hypothesis, approach and lessons")
    team = TeamFilter()
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices, empty_label="Any outcome")
    failure_kind = ChoiceOrUnspecifiedFilter(choices=FAILURE_KIND_CHOICES, empty_label="Any kind",
                                             label="Failure kind")
    failure_mode = ChoiceOrUnspecifiedFilter(choices=FailureMode.choices, empty_label="Any mode",
                                             label="Failure mode")
    is_novel = YesNoFilter(field_name="is_novel", label="Novel")
    repeat = HasRelationFilter(field_name="repeat_of", label="Repeat of an earlier failure")
    started_after = MomentFilter(field_name="started_at", lookup_expr="gte", label="Started on or after")
    started_before = MomentFilter(field_name="started_at", lookup_expr="lt", label="Started before")
    ended_after = MomentFilter(field_name="ended_at", lookup_expr="gte", label="Ended on or after")
    ended_before = MomentFilter(field_name="ended_at", lookup_expr="lt", label="Ended before")
    sort = django_filters.ChoiceFilter(choices=SORT_CHOICES, method="filter_sort", empty_label=None,
                                       label="Sort")

    class Meta:
        model = Experiment
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """The search engine (stemming, the index; the list keeps its own sort), else every word
        ``icontains``."""
        return search_filter(queryset, self.request, value, lambda rows, text: rows.search(text))

    def filter_sort(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(value, "id" if value == "started_at" else "-id")


class LessonFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Search")
    team = TeamFilter()
    documented_after = MomentFilter(field_name="documented_at", lookup_expr="gte", label="Documented on or after")
    documented_before = MomentFilter(field_name="documented_at", lookup_expr="lt", label="Documented before")
    applied = YesNoFilter(method="filter_applied", label="Applied")
    applied_before = MomentFilter(method="filter_applied_before", label="Applied before",
                                  help_text="At least one application dated before this day")

    class Meta:
        model = Lesson
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """As the experiments' search: the engine, else every word ``icontains``."""
        return search_filter(queryset, self.request, value, lambda rows, text: rows.search(text))

    def filter_applied(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value in ("", None):
            return queryset
        has_application = Exists(LessonApplication.objects.filter(lesson=OuterRef("pk")))
        return queryset.filter(has_application if value == "true" else ~has_application)

    def filter_applied_before(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(Exists(LessonApplication.objects.filter(lesson=OuterRef("pk"), applied_at__lt=value)))
