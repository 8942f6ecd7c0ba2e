"""``/api/v1/mlflow-mappings/``: which MLflow experiment feeds which team (leads manage them)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from experiments.mlflow import services
from experiments.models import MlflowMapping
from learninghub.kernel import policy
from learninghub.kernel.api.fields import TeamSlugField
from learninghub.kernel.api.viewsets import TeamScopedModelViewSet


class MlflowMappingSerializer(serializers.ModelSerializer):
    team = TeamSlugField()

    class Meta:
        model = MlflowMapping
        fields = ["id", "team", "tracking_uri", "experiment_name", "enabled", "detect_repeats",
                  "cursor_start_time", "last_synced_at", "last_result", "created_at", "updated_at"]
        read_only_fields = ["cursor_start_time", "last_synced_at", "last_result", "created_at", "updated_at"]
        validators: list = []  # uniqueness is checked by the model's full_clean in the service


def _as_drf(error: DjangoValidationError) -> ValidationError:
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


class MlflowMappingViewSet(TeamScopedModelViewSet):
    """Mappings of your teams. Creating, editing, deleting and ``sync`` need a lead of the team."""

    serializer_class = MlflowMappingSerializer

    def safely_get_queryset(self):
        return MlflowMapping.objects.select_related("team").order_by("team__name", "experiment_name", "pk")

    def may_change(self, user, obj, *, delete: bool = False) -> bool:
        return policy.can_lead(user, obj.team_id)

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        team = data.pop("team")
        try:
            serializer.instance = services.mapping_create(team=team, user=self.request.user, data=data)
        except DjangoValidationError as error:
            raise _as_drf(error) from error

    def perform_update(self, serializer) -> None:
        data = dict(serializer.validated_data)
        if "team" in data and data.pop("team") != serializer.instance.team:
            raise ValidationError({"team": ["A mapping stays with its team: delete it and create another."]})
        try:
            serializer.instance = services.mapping_update(mapping=serializer.instance, user=self.request.user,
                                                          data=data)
        except DjangoValidationError as error:
            raise _as_drf(error) from error

    def perform_destroy(self, instance: MlflowMapping) -> None:
        services.mapping_delete(mapping=instance, user=self.request.user)

    @extend_schema(request=None, responses={202: inline_serializer(
        "MlflowSyncQueued", {"queued": serializers.BooleanField(help_text="false: the broker is down")})})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Queue a sync of this mapping now (202; the hourly sync runs anyway)."""
        mapping = self.get_object()
        queued = services.mapping_sync_soon(mapping=mapping, user=request.user)
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)
