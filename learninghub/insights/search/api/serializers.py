from __future__ import annotations

from rest_framework import serializers


class SearchHitSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="experiment, postmortem, lesson or action_item")
    object_id = serializers.IntegerField()
    team = serializers.CharField(source="team_slug", help_text="Team slug")
    team_name = serializers.CharField()
    title = serializers.CharField()
    title_html = serializers.CharField(help_text="The title, HTML-escaped, matches in <mark>")
    snippet_html = serializers.CharField(help_text="The best passage, HTML-escaped, matches in <mark>")
    url = serializers.CharField(help_text="Path of the record's page")
    outcome = serializers.CharField()
    failure_mode = serializers.CharField()
    dated_at = serializers.DateTimeField(allow_null=True)
    restricted = serializers.BooleanField()
    score = serializers.FloatField(help_text="Relevance (higher is better; comparable within one query)")


class FacetValueSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()
    selected = serializers.BooleanField()


class SearchFacetsSerializer(serializers.Serializer):
    kind = FacetValueSerializer(many=True, required=False)
    team = FacetValueSerializer(many=True, required=False)
    outcome = FacetValueSerializer(many=True, required=False)
    failure_mode = FacetValueSerializer(many=True, required=False)
    period = FacetValueSerializer(many=True, required=False)


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = SearchHitSerializer(many=True)
    facets = SearchFacetsSerializer()
