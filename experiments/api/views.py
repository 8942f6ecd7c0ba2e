"""The registry's REST API: experiments (with idempotent upsert by team + external_id), their
Markdown, lessons and where they were applied. Thin: validation by serializers, writes by
services, reads by selectors."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import renderers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from experiments import services
from experiments.api.serializers import ExperimentSerializer, LessonApplicationSerializer, LessonSerializer
from experiments.filters import ExperimentFilter, LessonFilter
from experiments.markdown import experiment_markdown
from experiments.models import Experiment, Lesson, LessonApplication
from experiments.selectors import experiments_with_lessons, lessons_for_api
from learninghub.kernel.api.fields import expected_version
from learninghub.kernel.api.renderers import MarkdownRenderer
from learninghub.kernel.api.viewsets import TeamScopedModelViewSet


@extend_schema_view(
    create=extend_schema(
        summary="Create an experiment, or update it if the team already has its external_id (upsert)",
        description="With `external_id`, a second send for the same team updates that experiment and answers "
                    "200 with the same `id` (201 the first time), so tooling can retry safely. Fields not sent "
                    "keep their values on such an update; a retry that changes nothing writes nothing "
                    "(the same `version`).",
        responses={201: ExperimentSerializer, 200: ExperimentSerializer},
    ),
    destroy=extend_schema(summary="Delete an experiment (leads of its team and staff only)"),
)
class ExperimentViewSet(TeamScopedModelViewSet):
    """Experiments of every team: everyone signed in reads, members of the team write."""

    serializer_class = ExperimentSerializer
    filterset_class = ExperimentFilter

    def safely_get_queryset(self):
        return experiments_with_lessons(user=self.request.user)

    def _reload(self, experiment: Experiment) -> Experiment:
        return self.get_queryset().get(pk=experiment.pk)

    def _upsert_target(self, data) -> Experiment | None:
        if not isinstance(data, Mapping):
            return None  # the serializer reports the malformed body
        team, external_id = data.get("team"), data.get("external_id")
        if not isinstance(team, str) or not isinstance(external_id, str) or not external_id:
            return None
        existing = Experiment.objects.filter(team__slug=team, external_id=external_id).first()
        if existing is not None:
            self.check_object_permissions(self.request, existing)
        return existing

    @staticmethod
    def _split(validated: dict) -> tuple[dict, dict]:
        data = dict(validated)
        extras = {"team": data.pop("team", None), "lessons": data.pop("lessons", None),
                  "applied_lesson_ids": data.pop("applied_lessons", None),
                  "detect_repeats": data.pop("detect_repeats", True)}
        data.pop("version", None)
        return data, extras

    def create(self, request, *args, **kwargs):
        existing = self._upsert_target(request.data)
        serializer = self.get_serializer(existing, data=request.data, partial=existing is not None)
        serializer.is_valid(raise_exception=True)
        data, extras = self._split(serializer.validated_data)
        team = extras.pop("team")
        version = expected_version(request, request.data)
        if data.get("external_id"):
            experiment, created = services.experiment_upsert(
                team=team, external_id=data["external_id"], user=request.user, data=data,
                expected_version=version, **extras)
        else:
            experiment, created = services.experiment_create(team=team, user=request.user, data=data, **extras), True
        body = self.get_serializer(self._reload(experiment)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def update(self, request, *args, **kwargs):
        experiment = self.get_object()
        serializer = self.get_serializer(experiment, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data, extras = self._split(serializer.validated_data)
        team = extras.pop("team")
        if team is not None and team.pk != experiment.team_id:
            raise ValidationError({"team": ["An experiment cannot move to another team."]})
        services.experiment_update(experiment=experiment, user=request.user, data=data,
                                   expected_version=expected_version(request, request.data), **extras)
        return Response(self.get_serializer(self._reload(experiment)).data)

    def perform_destroy(self, instance: Experiment) -> None:
        services.experiment_delete(experiment=instance, user=self.request.user)

    @extend_schema(summary="The experiment in the registry's Markdown format",
                   responses={(200, "text/markdown"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="markdown",
            renderer_classes=[MarkdownRenderer, renderers.JSONRenderer])
    def markdown(self, request, pk=None):
        experiment = self.get_object()
        return Response(experiment_markdown(experiment), content_type="text/markdown; charset=utf-8")


@extend_schema_view(
    create=extend_schema(summary="Add a lesson to an experiment or a post-mortem (members of its team)"),
    destroy=extend_schema(summary="Delete a lesson (leads of its team and staff only)"),
)
class LessonViewSet(TeamScopedModelViewSet):
    """Lessons from experiments and post-mortems, with how often they were applied."""

    serializer_class = LessonSerializer
    filterset_class = LessonFilter

    def safely_get_queryset(self):
        return lessons_for_api(user=self.request.user)

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.lesson_create(
            text=data["text"], user=self.request.user, experiment=data.get("experiment"),
            postmortem=data.get("postmortem"), documented_at=data.get("documented_at"))

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        lesson = self.get_queryset().get(pk=serializer.instance.pk)
        return Response(self.get_serializer(lesson).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer) -> None:
        data = serializer.validated_data
        services.lesson_update(lesson=serializer.instance, user=self.request.user, text=data.get("text"),
                               documented_at=data.get("documented_at"))
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_destroy(self, instance: Lesson) -> None:
        services.lesson_delete(lesson=instance, user=self.request.user)

    @extend_schema(methods=["GET"], summary="Where this lesson was applied", filters=False,
                   responses=LessonApplicationSerializer(many=True))
    @extend_schema(methods=["POST"], summary="Record that this lesson was applied (members of the team "
                                             "where it was applied)",
                   request=LessonApplicationSerializer,
                   responses={201: LessonApplicationSerializer, 400: OpenApiResponse(description="Invalid")})
    @action(detail=True, methods=["get", "post"], url_path="applications",
            serializer_class=LessonApplicationSerializer, filterset_class=None)
    def applications(self, request, pk=None):
        lesson = self.get_visible_object()
        if request.method == "POST":
            serializer = LessonApplicationSerializer(data=request.data, context=self.get_serializer_context())
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            application = services.lesson_apply(
                lesson=lesson, user=request.user, experiment=data.get("experiment"),
                postmortem=data.get("postmortem"), applied_at=data.get("applied_at"), note=data.get("note", ""))
            application = self._applications(lesson).get(pk=application.pk)
            return Response(LessonApplicationSerializer(application).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(self._applications(lesson))
        return self.get_paginated_response(LessonApplicationSerializer(page, many=True).data)

    def _applications(self, lesson: Lesson):
        return (LessonApplication.objects.visible_to(self.request.user).filter(lesson=lesson)
                .select_related("experiment", "postmortem", "applied_by").order_by("-applied_at", "-id"))
