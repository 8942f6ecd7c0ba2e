"""Award API shapes. Cycles are written and read as their month, ``YYYY-MM``; people as usernames;
categories as slugs. Vote counts appear only in a closed cycle's ``results``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from awards import selectors
from awards.models import AwardCategory, AwardCycle, CycleState, CycleTransition, Nomination, Vote
from learninghub.kernel.periods import Month


@extend_schema_field(OpenApiTypes.STR)
class CycleMonthField(serializers.RelatedField):
    """A cycle given as its month, e.g. ``2026-11``."""

    default_error_messages = {
        "invalid": "Give the cycle as its month, YYYY-MM (e.g. 2026-11).",
        "does_not_exist": "There is no award cycle for {value}.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", AwardCycle.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            month = Month.parse(data) if isinstance(data, str) else None
        except ValueError:
            month = None
        if month is None:
            self.fail("invalid")
        cycle = self.get_queryset().filter(month=month.first_day).first()
        if cycle is None:
            self.fail("does_not_exist", value=data)
        return cycle

    def to_representation(self, value) -> str:
        return value.label


class UsernameField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": "Unknown user “{value}”.", "invalid": "Give a username."}

    def __init__(self, **kwargs):
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", get_user_model().objects.filter(is_active=True))
        super().__init__(slug_field="username", **kwargs)


class CategorySlugField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": "Unknown award category “{value}”.",
                              "invalid": "Give the category as its slug."}

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", AwardCategory.objects.all())
        super().__init__(slug_field="slug", **kwargs)


class AwardCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = AwardCategory
        fields = ["slug", "name", "description", "is_active", "position"]


class CycleTransitionSerializer(serializers.ModelSerializer):
    by = UsernameField(read_only=True, allow_null=True)

    class Meta:
        model = CycleTransition
        fields = ["from_state", "to_state", "by", "at", "automatic"]


class NomineeResultSerializer(serializers.Serializer):
    nominee = serializers.CharField()
    votes = serializers.IntegerField()
    winner = serializers.BooleanField()


class CategoryResultSerializer(serializers.Serializer):
    category = serializers.CharField()
    name = serializers.CharField()
    nominees = NomineeResultSerializer(many=True)
    winners = serializers.ListField(child=serializers.CharField())


class AwardCycleListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        self.context["cycle_results"] = selectors.cycle_results(items)
        return super().to_representation(items)


class AwardCycleSerializer(serializers.ModelSerializer):
    month = serializers.SerializerMethodField()
    transitions = CycleTransitionSerializer(many=True, read_only=True)
    results = serializers.SerializerMethodField(
        help_text="Per category, each nominee's votes and the winners; null until the cycle is closed "
                  "(secret ballot).")

    class Meta:
        model = AwardCycle
        fields = ["month", "state", "nominations_close_on", "voting_close_on", "closed_at", "transitions", "results"]
        list_serializer_class = AwardCycleListSerializer

    def get_month(self, cycle) -> str:
        return cycle.label

    @extend_schema_field(CategoryResultSerializer(many=True, allow_null=True))
    def get_results(self, cycle):
        if not cycle.is_closed:
            return None
        cached = self.context.get("cycle_results")
        if cached is None or cycle.pk not in cached:
            cached = selectors.cycle_results([cycle])
        return cached.get(cycle.pk, [])


class AdvanceSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=[CycleState.NOMINATING, CycleState.VOTING], required=False,
                                    help_text="The state you expect the cycle to be in; if it already moved on, "
                                              "nothing changes and the answer is 409.")


class ExperimentEvidenceField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        from experiments.models import Experiment

        return Experiment.objects.all()


class PostMortemEvidenceField(serializers.PrimaryKeyRelatedField):
    """Only post-mortems the caller can see: a restricted one of another team is "not found"."""

    def get_queryset(self):
        from postmortems.models import PostMortem

        request = self.context.get("request")
        return PostMortem.objects.visible_to(request.user) if request is not None else PostMortem.objects.none()


class NominationListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        request = self.context.get("request")
        if request is not None:
            selectors.hide_invisible_evidence(items, request.user)
        return super().to_representation(items)


class NominationSerializer(serializers.ModelSerializer):
    cycle = CycleMonthField()
    category = CategorySlugField()
    nominee = UsernameField()
    nominator = UsernameField(read_only=True)
    reason = serializers.CharField(allow_blank=True, max_length=4000,
                                   error_messages={"required": "A nomination needs a reason: say what they did."})
    experiment = ExperimentEvidenceField(required=False, allow_null=True)
    postmortem = PostMortemEvidenceField(required=False, allow_null=True)

    class Meta:
        model = Nomination
        fields = ["id", "cycle", "category", "nominee", "nominator", "reason", "experiment", "postmortem",
                  "created_at"]
        list_serializer_class = NominationListSerializer

    def to_representation(self, instance):
        if not hasattr(instance, "evidence_hidden") and instance.postmortem_id:
            request = self.context.get("request")
            if request is not None:
                selectors.hide_invisible_evidence([instance], request.user)
        return super().to_representation(instance)


class VoteSerializer(serializers.ModelSerializer):
    cycle = CycleMonthField()
    category = CategorySlugField()
    nominee = UsernameField()

    class Meta:
        model = Vote
        fields = ["id", "cycle", "category", "nominee", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
