"""Filter pieces shared by the apps' FilterSets (pages and API use the same ones)."""

from __future__ import annotations

import django_filters

from learninghub.kernel.models import Team


class TeamFilter(django_filters.ModelChoiceFilter):
    """A team given by its slug; an unknown slug is a validation error (400 in the API)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("queryset", Team.objects.order_by("name"))
        kwargs.setdefault("to_field_name", "slug")
        kwargs.setdefault("empty_label", "All teams")
        super().__init__(*args, **kwargs)
