from __future__ import annotations

from rest_framework import serializers

from learninghub.insights.alerts.models import AlertKind, AlertRule, Channel, RuleKind, Subscription
from learninghub.kernel.api.fields import TeamSlugField


class AlertRuleSerializer(serializers.ModelSerializer):
    team = TeamSlugField()
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    threshold = serializers.FloatField(required=False, help_text="In the rule's range (see the team's alert page)")
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AlertRule
        fields = ["id", "team", "kind", "enabled", "threshold", "alert_on_rise", "updated_by", "updated_at"]
        read_only_fields = ["id", "updated_by", "updated_at"]
        validators = []  # (team, kind) is an upsert key: the service updates the existing rule


class SubscriptionSerializer(serializers.ModelSerializer):
    team = TeamSlugField(required=False, allow_null=True, help_text="Set for a team channel (leads only)")
    channel = serializers.ChoiceField(choices=Channel.choices)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=AlertKind.choices), required=False,
                                  help_text="Alert kinds wanted; empty: all")
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "owner", "team", "name", "channel", "target", "secret", "kinds", "paused", "paused_reason",
                  "consecutive_failures", "created_at"]
        read_only_fields = ["id", "owner", "secret", "paused_reason", "consecutive_failures", "created_at"]


class TestQueuedSerializer(serializers.Serializer):
    notification = serializers.IntegerField()
    status = serializers.CharField()
