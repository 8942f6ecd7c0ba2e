"""API shapes for post-mortems (with nested action items and lessons) and action items."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from experiments.models import Experiment, Lesson
from learninghub.kernel.api.fields import TeamSlugField
from learninghub.kernel.policy import can_read
from postmortems.models import ActionItem, ActionItemStatus, PostMortem, PostMortemStatus, Severity
from postmortems.services import MAX_ROWS, action_item_row_errors, lesson_row_errors

User = get_user_model()


class VisibleLessonField(serializers.PrimaryKeyRelatedField):
    """A lesson by id, read back only when the caller may see it: a lesson learned in a restricted
    post-mortem stays hidden (null) from other teams even when the item itself is visible."""

    def use_pk_only_optimization(self) -> bool:
        return False

    def to_representation(self, value):
        request = self.context.get("request")
        if request is not None and not can_read(request.user, value):
            return None
        return super().to_representation(value)


class ActionItemNestedSerializer(serializers.Serializer):
    """An action item inside a post-mortem. On update, rows carrying an ``id`` change that item,
    rows without one are new, and items left out are deleted."""

    id = serializers.IntegerField(required=False)
    description = serializers.CharField(trim_whitespace=True)
    owner = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), allow_null=True,
                                         required=False)
    due_date = serializers.DateField(allow_null=True, required=False)
    status = serializers.ChoiceField(choices=ActionItemStatus.choices, required=False)
    completed_at = serializers.DateTimeField(allow_null=True, required=False,
                                             help_text="Set by the server when the item is marked done; may be "
                                                       "given for done items when importing history.")
    lesson = VisibleLessonField(queryset=Lesson.objects.all(), allow_null=True, required=False,
                                help_text="A lesson of the same team this item puts into practice")
    overdue = serializers.BooleanField(source="is_overdue", read_only=True)


@extend_schema_field({"type": "object", "properties": {
    "id": {"type": "integer", "readOnly": True}, "text": {"type": "string"},
    "documented_at": {"type": "string", "format": "date-time"}}, "required": ["text"]})
class LessonField(serializers.Field):
    """A lesson: written as a string or ``{text, documented_at}`` (``id`` to keep an existing
    one), read back as ``{id, text, documented_at}``."""

    default_error_messages = {"invalid": "Give a lesson as text, or an object with “text” (and “documented_at”)."}

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = {"text": data}
        if not isinstance(data, dict):
            self.fail("invalid")
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise serializers.ValidationError({"text": ["A lesson needs text."]})
        row = {"text": text.strip()}
        if data.get("documented_at") not in (None, ""):
            try:
                row["documented_at"] = serializers.DateTimeField().to_internal_value(data["documented_at"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"documented_at": exc.detail}) from exc
        if data.get("id") is not None:
            if not isinstance(data["id"], int) or isinstance(data["id"], bool):
                raise serializers.ValidationError({"id": ["A lesson id is a whole number."]})
            row["id"] = data["id"]
        return row

    def to_representation(self, lesson: Lesson) -> dict:
        return {"id": lesson.pk, "text": lesson.text,
                "documented_at": serializers.DateTimeField().to_representation(lesson.documented_at)}


class LessonListField(serializers.ListField):
    child = LessonField()

    def get_attribute(self, instance):
        return list(instance.lessons.all())


class PostMortemSerializer(serializers.ModelSerializer):
    team = TeamSlugField()
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    status = serializers.ChoiceField(choices=PostMortemStatus.choices, required=False)
    experiment = serializers.PrimaryKeyRelatedField(queryset=Experiment.objects.all(), allow_null=True,
                                                    required=False)
    repeat_of = serializers.PrimaryKeyRelatedField(queryset=PostMortem.objects.all(), allow_null=True,
                                                   required=False)
    action_items = ActionItemNestedSerializer(many=True, required=False, max_length=MAX_ROWS)
    lessons = LessonListField(required=False, max_length=MAX_ROWS)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    authors = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    version = serializers.IntegerField(required=False, min_value=1,
                                       help_text="Send the version you read; a stale one answers 409 "
                                                 "(or use If-Match: 412).")
    action_item_count = serializers.IntegerField(read_only=True)
    open_action_item_count = serializers.IntegerField(read_only=True)
    lesson_count = serializers.IntegerField(read_only=True)
    html_url = serializers.SerializerMethodField()
    detect_repeats = serializers.BooleanField(
        write_only=True, required=False, default=True,
        help_text="false: do not compare this failure with earlier ones (importing history, so old data is not "
                  "auto-linked as repeats). Not stored.")

    class Meta:
        model = PostMortem
        fields = [
            "id", "team", "title", "severity", "status", "restricted", "occurred_at", "detected_at", "resolved_at",
            "production_impact", "what_happened", "root_cause", "what_went_well", "failure_mode", "experiment",
            "repeat_of", "repeat_link_source", "action_items", "lessons", "authors", "created_by", "created_at",
            "updated_at", "version", "action_item_count", "open_action_item_count", "lesson_count", "html_url",
            "detect_repeats",
        ]
        read_only_fields = ["repeat_link_source", "created_at", "updated_at"]
        extra_kwargs = {"title": {"required": True}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "repeat_of" in self.fields:
            self.fields["repeat_of"].queryset = PostMortem.objects.visible_to(request.user)

    def get_html_url(self, obj: PostMortem) -> str:
        return obj.get_absolute_url()

    def to_representation(self, instance: PostMortem) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if instance.repeat_of_id and request is not None and not can_read(request.user, instance.repeat_of):
            data["repeat_of"] = None  # never reveal a restricted post-mortem of another team
        return data

    def validate(self, attrs: dict) -> dict:
        team = attrs.get("team") or (self.instance.team if self.instance else None)
        if team is None:
            return attrs
        if "action_items" in attrs:
            existing = set(self.instance.action_items.values_list("pk", flat=True)) if self.instance else set()
            errors = action_item_row_errors(team=team, rows=attrs["action_items"], existing_ids=existing)
            if any(errors):
                raise serializers.ValidationError({"action_items": errors})
        if "lessons" in attrs:
            existing = set(self.instance.lessons.values_list("pk", flat=True)) if self.instance else set()
            errors = lesson_row_errors(rows=attrs["lessons"], existing_ids=existing)
            if any(errors):
                raise serializers.ValidationError({"lessons": errors})
        return attrs


class ImportMarkdownSerializer(serializers.Serializer):
    team = TeamSlugField()
    markdown = serializers.CharField(trim_whitespace=False)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    status = serializers.ChoiceField(choices=PostMortemStatus.choices, required=False,
                                     help_text="Draft unless the Markdown or this field says published")
    detect_repeats = serializers.BooleanField(
        required=False, default=True,
        help_text="false: do not compare this failure with earlier ones (importing history, so old data is not "
                  "auto-linked as repeats). Not stored.")


class ActionItemSerializer(serializers.ModelSerializer):
    """An action item across post-mortems. Only ``status`` can be changed here."""

    postmortem_title = serializers.CharField(source="postmortem.title", read_only=True)
    team = serializers.SlugRelatedField(source="postmortem.team", slug_field="slug", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=ActionItemStatus.choices)
    overdue = serializers.BooleanField(source="is_overdue", read_only=True)
    lesson = VisibleLessonField(read_only=True, allow_null=True)
    html_url = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = ["id", "postmortem", "postmortem_title", "team", "description", "owner", "due_date", "status",
                  "completed_at", "lesson", "overdue", "html_url"]
        read_only_fields = ["postmortem", "description", "due_date", "completed_at", "lesson"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_html_url(self, obj: ActionItem) -> str:
        return obj.get_absolute_url()
