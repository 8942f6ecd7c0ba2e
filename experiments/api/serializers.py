"""JSON shapes of the registry's API. Serializers validate types; the rules live in the models
and services (their Django ValidationErrors become 400s with field messages)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from experiments.models import Experiment, Lesson, LessonApplication
from learninghub.kernel.api.fields import TeamSlugField

LESSON_ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "text": {"type": "string"},
        "documented_at": {"type": "string", "format": "date-time"},
    },
    "required": ["text"],
}


@extend_schema_field({
    "type": "array",
    "items": {"oneOf": [{"type": "string"}, LESSON_ITEM_SCHEMA]},
    "description": "Written as texts or objects {text, documented_at?}; read back as {id, text, documented_at}. "
                   "Writing replaces the lessons (kept, with their applications, when the text is unchanged).",
})
class LessonListField(serializers.Field):
    """Lessons written as a list of strings (or ``{text, documented_at?}``), read as objects."""

    default_error_messages = {
        "not_a_list": "Give the lessons as a list of texts or of objects with “text”.",
        "too_many": "At most {limit} lessons.",
        "bad_item": "Lesson {index}: give a text or an object with “text”.",
        "blank": "Lesson {index} is empty.",
    }

    def to_internal_value(self, data) -> list[dict]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if len(data) > Experiment.MAX_LESSONS:
            self.fail("too_many", limit=Experiment.MAX_LESSONS)
        moment = serializers.DateTimeField()
        result = []
        for index, item in enumerate(data, 1):
            if isinstance(item, str):
                item = {"text": item}
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                self.fail("bad_item", index=index)
            if not item["text"].strip():
                self.fail("blank", index=index)
            lesson = {"text": item["text"].strip()}
            if item.get("documented_at") not in (None, ""):
                try:
                    lesson["documented_at"] = moment.to_internal_value(item["documented_at"])
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError(f"Lesson {index}: {exc.detail[0]}") from exc
            if item.get("id") is not None:
                lesson["id"] = item["id"]
            result.append(lesson)
        return result

    def get_attribute(self, instance):
        """The lessons ``experiments_with_lessons`` loaded, or the experiment's own."""
        lessons = getattr(instance, "ordered_lessons", None)
        return instance.lessons.order_by("position", "id") if lessons is None else lessons

    def to_representation(self, value) -> list[dict]:
        moment = serializers.DateTimeField()
        return [{"id": lesson.pk, "text": lesson.text, "documented_at": moment.to_representation(lesson.documented_at)}
                for lesson in value]


@extend_schema_field({"type": "array", "items": {"type": "integer"},
                      "description": "Ids of earlier lessons this experiment applied. Writing replaces the set "
                                     "and records a LessonApplication for each new one."})
class AppliedLessonsField(serializers.Field):
    default_error_messages = {
        "not_a_list": "Give the applied lessons as a list of lesson ids.",
        "unknown": "Unknown lessons: {ids}.",
        "too_many": "At most {limit} applied lessons.",
    }

    def get_attribute(self, instance):
        """The applications ``experiments_with_lessons`` loaded (those the reader may see), or the
        same read for this experiment."""
        applications = getattr(instance, "visible_applications", None)
        if applications is None:
            request = self.context.get("request")
            everyone = LessonApplication.objects
            readable = everyone.visible_to(request.user) if request else everyone.none()
            applications = readable.filter(experiment=instance)
        return sorted(application.lesson_id for application in applications)

    def to_representation(self, value) -> list[int]:
        return list(value)

    def to_internal_value(self, data) -> list[int]:
        if not isinstance(data, list) or not all(isinstance(item, int) and not isinstance(item, bool)
                                                 for item in data):
            self.fail("not_a_list")
        ids = set(data)
        if len(ids) > Experiment.MAX_APPLIED_LESSONS:
            self.fail("too_many", limit=Experiment.MAX_APPLIED_LESSONS)
        request = self.context.get("request")
        visible = Lesson.objects.visible_to(request.user) if request else Lesson.objects.none()
        found = set(visible.filter(pk__in=ids).values_list("pk", flat=True))
        if ids - found:
            self.fail("unknown", ids=", ".join(map(str, sorted(ids - found))))
        return sorted(ids)


class PostMortemField(serializers.PrimaryKeyRelatedField):
    """A post-mortem by id (restricted ones of other teams do not exist for the caller)."""

    def get_queryset(self):
        # Through the relation, so this app never imports postmortems.
        PostMortem = Lesson._meta.get_field("postmortem").related_model
        request = self.context.get("request")
        return PostMortem.objects.visible_to(request.user) if request else PostMortem.objects.none()


class ExperimentSerializer(serializers.ModelSerializer):
    team = TeamSlugField()
    url = serializers.CharField(source="get_absolute_url", read_only=True, help_text="The experiment's web page")
    metrics = serializers.JSONField(required=False, help_text="Object of name → number, e.g. {\"ctr\": 0.52}")
    next_steps = serializers.ListField(child=serializers.CharField(max_length=2000), required=False,
                                       max_length=Experiment.MAX_NEXT_STEPS)
    builds_on = serializers.PrimaryKeyRelatedField(queryset=Experiment.objects.all(), allow_null=True, required=False)
    repeat_of = serializers.PrimaryKeyRelatedField(queryset=Experiment.objects.all(), allow_null=True, required=False)
    lessons = LessonListField(required=False)
    applied_lessons = AppliedLessonsField(required=False)
    duration_seconds = serializers.SerializerMethodField()
    time_to_failure = serializers.DurationField(
        required=False, allow_null=True,
        help_text="A failure: how long the run took to its failure verdict, as the tooling measured it "
                  "(seconds, or [DD] [HH:[MM:]]ss[.uuuuuu])")
    lesson_count = serializers.IntegerField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    version = serializers.IntegerField(required=False, min_value=1,
                                       help_text="Read: the current version. Write: the version your edit is "
                                                 "based on (or send If-Match); a stale one answers 409.")
    detect_repeats = serializers.BooleanField(
        write_only=True, required=False, default=True,
        help_text="false: do not compare this failure with earlier ones (importing history, so old data is "
                  "not auto-linked as repeats). Not stored.")

    class Meta:
        model = Experiment
        fields = [
            "id", "url", "team", "title", "hypothesis", "approach", "metrics", "started_at", "ended_at",
            "duration_seconds", "outcome", "failure_kind", "failure_mode", "is_novel", "builds_on", "repeat_of",
            "repeat_link_source", "next_steps", "external_id", "error_type", "error_message", "error_trace",
            "time_to_failure", "lessons", "applied_lessons", "lesson_count", "created_by", "created_at", "updated_at",
            "version", "detect_repeats",
        ]
        read_only_fields = ["repeat_link_source", "created_at", "updated_at"]
        # Uniqueness of (team, external_id) is the upsert key, not an error: the view handles it.
        validators: list = []

    @extend_schema_field({"type": "number", "format": "float", "nullable": True})
    def get_duration_seconds(self, experiment: Experiment) -> float | None:
        return experiment.duration.total_seconds() if experiment.duration is not None else None

    def to_representation(self, instance):
        if not hasattr(instance, "lesson_count"):
            instance.lesson_count = instance.lessons.count()
        return super().to_representation(instance)


class LessonSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    experiment = serializers.PrimaryKeyRelatedField(queryset=Experiment.objects.all(), required=False,
                                                    allow_null=True)
    postmortem = PostMortemField(required=False, allow_null=True)
    documented_at = serializers.DateTimeField(required=False, help_text="Defaults to now")
    source_title = serializers.SerializerMethodField()
    application_count = serializers.IntegerField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Lesson
        fields = ["id", "team", "text", "documented_at", "experiment", "postmortem", "source_title",
                  "application_count", "created_by", "created_at"]
        read_only_fields = ["created_at"]

    def get_source_title(self, lesson: Lesson) -> str:
        source = lesson.experiment if lesson.experiment_id else lesson.postmortem
        return source.title if source is not None else ""

    def validate(self, attrs):
        if self.instance is None:
            if bool(attrs.get("experiment")) == bool(attrs.get("postmortem")):
                raise serializers.ValidationError(
                    {"experiment": ["Give exactly one of “experiment” or “postmortem”: where was it learned?"]})
        else:
            for field in ("experiment", "postmortem"):
                if field in attrs and attrs[field] != getattr(self.instance, field):
                    raise serializers.ValidationError({field: ["A lesson cannot move to another record."]})
        return attrs


class LessonApplicationSerializer(serializers.ModelSerializer):
    lesson = serializers.PrimaryKeyRelatedField(read_only=True)
    experiment = serializers.PrimaryKeyRelatedField(queryset=Experiment.objects.all(), required=False,
                                                    allow_null=True)
    postmortem = PostMortemField(required=False, allow_null=True)
    applied_at = serializers.DateTimeField(required=False, help_text="Defaults to now")
    applied_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    place_title = serializers.SerializerMethodField()

    class Meta:
        model = LessonApplication
        fields = ["id", "lesson", "experiment", "postmortem", "place_title", "applied_at", "note", "applied_by",
                  "action_item", "created_at"]
        read_only_fields = ["action_item", "created_at"]

    def get_place_title(self, application: LessonApplication) -> str:
        place = application.experiment if application.experiment_id else application.postmortem
        return place.title if place is not None else ""

    def validate(self, attrs):
        if bool(attrs.get("experiment")) == bool(attrs.get("postmortem")):
            raise serializers.ValidationError(
                {"experiment": ["Give exactly one of “experiment” or “postmortem”: where was it applied?"]})
        return attrs
