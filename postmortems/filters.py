"""FilterSets shared by the post-mortem pages and the API (one vocabulary for both).

Date bounds are the kernel's (``learninghub.kernel.filters``): ``X_after`` is on or after (>=),
``X_before`` strictly before (<); a full ISO datetime is read exactly (UTC), YYYY-MM-DD as local
midnight, and a due date (a calendar day) takes YYYY-MM-DD as it is. Invalid values are form
errors (pages) or 400s (API), never 500s.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from experiments.models import Lesson
from learninghub.kernel.choices import FailureMode
from learninghub.kernel.filters import ChoiceOrUnspecifiedFilter, DayFilter, MomentFilter, TeamFilter
from learninghub.kernel.search import search_filter
from postmortems.models import ActionItem, ActionItemStatus, PostMortem, PostMortemStatus, Severity


class StrictBooleanField(forms.NullBooleanField):
    """true/false (also 1/0, yes/no); anything else is a validation error rather than ignored."""

    TRUE = {"true", "1", "yes", "on"}
    FALSE = {"false", "0", "no", "off"}
    widget = forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in self.TRUE:
            return True
        if lowered in self.FALSE:
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")

    def validate(self, value):
        return None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class PostMortemFilter(django_filters.FilterSet):
    team = TeamFilter(field_name="team", label="Team")
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="Any severity")
    status = django_filters.ChoiceFilter(choices=PostMortemStatus.choices, empty_label="Any status")
    failure_mode = ChoiceOrUnspecifiedFilter(choices=FailureMode.choices, empty_label="Any failure mode")
    occurred_after = MomentFilter(field_name="occurred_at", lookup_expr="gte", label="Occurred on or after")
    occurred_before = MomentFilter(field_name="occurred_at", lookup_expr="lt", label="Occurred before")
    resolved_after = MomentFilter(field_name="resolved_at", lookup_expr="gte", label="Resolved on or after")
    resolved_before = MomentFilter(field_name="resolved_at", lookup_expr="lt", label="Resolved before")
    repeat = StrictBooleanFilter(method="filter_repeat", label="Repeat of an earlier post-mortem")
    search = django_filters.CharFilter(method="filter_search", label="Search")

    class Meta:
        model = PostMortem
        fields = ["team", "severity", "status", "failure_mode"]

    def filter_repeat(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(repeat_of__isnull=not value)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Free text over title, the three narrative sections, lessons and action items: through
        the search engine when one is registered (every word, stemmed; the list keeps its sort),
        else the whole phrase ``icontains``.

        Related rows are matched with subqueries, so no row is duplicated and counts stay
        right; visibility was applied to ``queryset`` before, so search never widens it.
        """
        return search_filter(queryset, self.request, value, self._contains)

    @staticmethod
    def _contains(queryset: QuerySet, value: str) -> QuerySet:
        lesson_match = Lesson.objects.filter(postmortem=OuterRef("pk"), text__icontains=value)
        item_match = ActionItem.objects.filter(postmortem=OuterRef("pk"), description__icontains=value)
        return queryset.filter(
            Q(title__icontains=value) | Q(what_happened__icontains=value) | Q(root_cause__icontains=value)
            | Q(what_went_well__icontains=value) | Exists(lesson_match) | Exists(item_match)
        )


class ActionItemFilter(django_filters.FilterSet):
    owner = django_filters.CharFilter(method="filter_owner", label="Owner",
                                      help_text="A username, or “me”")
    status = django_filters.ChoiceFilter(choices=ActionItemStatus.choices, empty_label="Any status")
    overdue = StrictBooleanFilter(method="filter_overdue", label="Overdue")
    team = TeamFilter(field_name="postmortem__team", label="Team")
    due_after = DayFilter(field_name="due_date", lookup_expr="gte", label="Due on or after")
    due_before = DayFilter(field_name="due_date", lookup_expr="lt", label="Due before")
    search = django_filters.CharFilter(method="filter_search", label="Search")

    class Meta:
        model = ActionItem
        fields = ["status"]

    def filter_owner(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        if value.lower() == "me":
            user = getattr(self.request, "user", None)
            if user is None or not user.is_authenticated:
                return queryset.none()
            return queryset.filter(owner=user)
        return queryset.filter(owner__username=value)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        today = timezone.localdate()
        overdue = Q(status__in=[ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS], due_date__lt=today)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(description__icontains=value) | Q(postmortem__title__icontains=value))
