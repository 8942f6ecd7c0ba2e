"""Post-mortem and action item endpoints. Querysets come from the selectors, so restricted
post-mortems (and their items) are 404 for everyone outside their team; writes go through
the services."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from learninghub.kernel.api.fields import expected_version
from learninghub.kernel.api.renderers import MarkdownRenderer
from learninghub.kernel.api.viewsets import TeamScopedModelViewSet, TeamScopedViewSet
from learninghub.kernel.headers import set_download_filename
from learninghub.kernel.policy import require_write
from postmortems import selectors, services
from postmortems.api.serializers import ActionItemSerializer, ImportMarkdownSerializer, PostMortemSerializer
from postmortems.filters import ActionItemFilter, PostMortemFilter
from postmortems.markdown_io import postmortem_to_markdown
from postmortems.models import PostMortem


def _service_payload(validated: dict) -> tuple[dict, list[dict] | None, list[dict] | None, bool]:
    data = dict(validated)
    data.pop("team", None)
    data.pop("version", None)
    items = data.pop("action_items", None)
    lessons = data.pop("lessons", None)
    return data, items, lessons, data.pop("detect_repeats", True)


class PostMortemViewSet(TeamScopedModelViewSet):
    """Post-mortems with nested ``action_items`` and ``lessons``.

    Reading: every signed-in user, except restricted post-mortems (their team only: 404 for
    others). Writing: the team's members (403 otherwise); deleting: its leads. Updates carry
    ``version`` (or ``If-Match``); a stale one answers 409 (412 with If-Match) and changes nothing.
    """

    serializer_class = PostMortemSerializer
    filterset_class = PostMortemFilter

    def safely_get_queryset(self):
        return selectors.postmortems_for_api(user=self.request.user)

    def _reloaded(self, postmortem: PostMortem) -> PostMortem:
        return self.get_queryset().get(pk=postmortem.pk)

    def perform_create(self, serializer) -> None:
        team = serializer.validated_data["team"]
        require_write(self.request.user, team)
        fields, items, lessons, detect_repeats = _service_payload(serializer.validated_data)
        postmortem = services.postmortem_create(team=team, user=self.request.user, fields=fields,
                                                action_items=items, lessons=lessons, detect_repeats=detect_repeats)
        serializer.instance = self._reloaded(postmortem)

    def perform_update(self, serializer) -> None:
        fields, items, lessons, detect_repeats = _service_payload(serializer.validated_data)
        if "team" in serializer.validated_data:
            fields["team"] = serializer.validated_data["team"]
        postmortem = services.postmortem_update(
            postmortem=serializer.instance, user=self.request.user, fields=fields, action_items=items,
            lessons=lessons, expected_version=expected_version(self.request, self.request.data),
            detect_repeats=detect_repeats)
        serializer.instance = self._reloaded(postmortem)

    def perform_destroy(self, instance: PostMortem) -> None:
        services.postmortem_delete(postmortem=instance, user=self.request.user)

    @extend_schema(responses={(200, "text/markdown"): OpenApiResponse(description="The post-mortem in the template")})
    @action(detail=True, methods=["get"], url_path="markdown", renderer_classes=[MarkdownRenderer, JSONRenderer])
    def markdown(self, request: Request, pk: str | None = None) -> HttpResponse:
        postmortem = self.get_object()
        text = postmortem_to_markdown(postmortem, action_items=postmortem.action_items.all(),
                                      lessons=postmortem.lessons.all())
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        filename = f"postmortem-{postmortem.pk}-{slugify(postmortem.title)[:60] or 'untitled'}.md"
        set_download_filename(response, filename, inline=True)
        return response

    @extend_schema(
        request=ImportMarkdownSerializer,
        responses={201: inline_serializer("ImportedPostMortem", fields={
            "postmortem": PostMortemSerializer(), "warnings": serializers.ListField(child=serializers.CharField())})},
    )
    @action(detail=False, methods=["post"], url_path="import-markdown")
    def import_markdown(self, request: Request) -> Response:
        """Create a post-mortem (with its action items and lessons) from the Markdown template."""
        payload = ImportMarkdownSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        team = data.pop("team")
        require_write(request.user, team)
        postmortem, warnings = services.postmortem_import_markdown(
            team=team, user=request.user, markdown=data.pop("markdown"),
            detect_repeats=data.pop("detect_repeats", True), overrides=data)
        body = {"postmortem": self.get_serializer(self._reloaded(postmortem)).data, "warnings": warnings}
        return Response(body, status=status.HTTP_201_CREATED)


class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                        TeamScopedViewSet):
    """Action items of the post-mortems you may see (overdue first). Filters: ``owner``
    (username or ``me``), ``status``, ``overdue``, ``team``, ``due_after``, ``due_before``.
    PATCH changes ``status`` (the owner or the team's members)."""

    serializer_class = ActionItemSerializer
    filterset_class = ActionItemFilter
    http_method_names = ["get", "patch", "head", "options"]

    def may_change(self, user, obj, *, delete: bool = False) -> bool:
        """An action item's owner may change its status too, even outside the team."""
        return obj.may_be_changed_by(user)

    def safely_get_queryset(self):
        return selectors.action_items_visible(user=self.request.user)

    def perform_update(self, serializer) -> None:
        new_status = serializer.validated_data.get("status")
        if new_status is None:
            return
        item = services.action_item_set_status(item=serializer.instance, status=new_status, user=self.request.user)
        serializer.instance = self.get_queryset().get(pk=item.pk)
