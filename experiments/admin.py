from django.contrib import admin

from experiments.models import Experiment, Lesson, LessonApplication


class LessonInline(admin.TabularInline):
    model = Lesson
    fk_name = "experiment"
    fields = ["text", "documented_at", "position", "created_by"]
    raw_id_fields = ["created_by"]
    extra = 0


class LessonApplicationInline(admin.TabularInline):
    model = LessonApplication
    fk_name = "experiment"
    fields = ["lesson", "applied_at", "note", "applied_by"]
    raw_id_fields = ["lesson", "applied_by"]
    extra = 0
    verbose_name = "lesson applied here"
    verbose_name_plural = "lessons applied here"


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "outcome", "failure_kind", "failure_mode", "is_novel", "started_at",
                    "ended_at", "version"]
    list_filter = ["team", "outcome", "failure_kind", "failure_mode", "is_novel", "repeat_link_source"]
    search_fields = ["title", "hypothesis", "approach", "external_id", "error_type"]
    date_hierarchy = "started_at"
    raw_id_fields = ["builds_on", "repeat_of", "created_by"]
    readonly_fields = ["version", "created_at", "updated_at"]
    list_select_related = ["team"]
    inlines = [LessonInline, LessonApplicationInline]
    fieldsets = [
        (None, {"fields": ["team", "title", "hypothesis", "approach", "is_novel", "builds_on"]}),
        ("Run", {"fields": ["started_at", "ended_at", "metrics", "next_steps", "external_id"]}),
        ("Outcome", {"fields": ["outcome", "failure_kind", "failure_mode", "repeat_of", "repeat_link_source"]}),
        ("Crash report", {"fields": ["error_type", "error_message", "error_trace"], "classes": ["collapse"]}),
        ("Bookkeeping", {"fields": ["created_by", "version", "created_at", "updated_at"]}),
    ]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["__str__", "team", "experiment", "postmortem", "documented_at"]
    list_filter = ["team"]
    search_fields = ["text"]
    date_hierarchy = "documented_at"
    raw_id_fields = ["experiment", "postmortem", "created_by"]
    list_select_related = ["team", "experiment", "postmortem"]


@admin.register(LessonApplication)
class LessonApplicationAdmin(admin.ModelAdmin):
    list_display = ["lesson", "experiment", "postmortem", "applied_at", "applied_by"]
    list_filter = ["lesson__team"]
    search_fields = ["lesson__text", "note"]
    date_hierarchy = "applied_at"
    raw_id_fields = ["lesson", "experiment", "postmortem", "action_item", "applied_by"]
    list_select_related = ["lesson", "experiment", "postmortem", "applied_by"]
