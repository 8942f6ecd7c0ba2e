"""Serializer fields shared by the apps' APIs."""

from __future__ import annotations

from rest_framework import serializers

from learninghub.kernel.models import Team


class TeamSlugField(serializers.SlugRelatedField):
    """A team written and read as its slug; an unknown slug is a 400 on the ``team`` field."""

    default_error_messages = {
        "does_not_exist": "Unknown team {slug_name} “{value}”.",
        "invalid": "Give the team as its slug.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Team.objects.all())
        super().__init__(slug_field="slug", **kwargs)


def expected_version(request, data: dict) -> int | None:
    """The version an update is based on: the If-Match header (the ETag ``W/"3"``, or ``"3"``) or
    ``version`` in the body. ``If-Match: *`` means any version (an unconditional update)."""
    header = (request.headers.get("If-Match") or "").strip()
    if header == "*":
        return None
    raw = header.removeprefix("W/").strip('"') if header else (data.get("version") if hasattr(data, "get") else None)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise serializers.ValidationError({"version": ["A version must be a whole number."]}) from exc
