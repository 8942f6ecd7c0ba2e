"""Admin for the registry. Every save and delete goes through ``experiments.services``, so the
admin validates like the pages and the API and the dashboards hear about the change."""

from __future__ import annotations

from django.contrib import admin

from experiments import services
from experiments.models import Experiment, Lesson, LessonApplication, MlflowMapping, MlflowRun
from learninghub.kernel.admin import ServiceAdmin
from learninghub.kernel.policy import is_privileged, lead_team_ids_for
from learninghub.kernel.queue import enqueue_by_name


class LessonInline(admin.TabularInline):
    model = Lesson
    fk_name = "experiment"
    fields = ["text", "documented_at", "position", "created_by"]
    readonly_fields = ["created_by"]
    extra = 0


class LessonApplicationInline(admin.TabularInline):
    model = LessonApplication
    fk_name = "experiment"
    fields = ["lesson", "applied_at", "note", "applied_by"]
    raw_id_fields = ["lesson"]
    readonly_fields = ["applied_by"]
    extra = 0
    verbose_name = "lesson applied here"
    verbose_name_plural = "lessons applied here"


def _kept_forms(formset):
    """The inline rows to keep: existing ones not marked for deletion, and filled-in new ones."""
    return [form for form in formset.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
            and (form.instance.pk is not None or form.has_changed())]


def _deleted_forms(formset):
    return [form for form in formset.forms
            if form.cleaned_data and form.cleaned_data.get("DELETE") and form.instance.pk is not None]


def save_application_formset(formset, *, user, experiment=None, postmortem=None) -> None:
    """Record, move or withdraw the lesson applications of an inline through the services."""
    new, changed, deleted = [], [], []
    for form in _deleted_forms(formset):
        deleted.append(form.instance)
        services.lesson_application_delete(application=LessonApplication.objects.get(pk=form.instance.pk),
                                           user=user)
    for form in _kept_forms(formset):
        data = form.cleaned_data
        current = (LessonApplication.objects.select_related("lesson").filter(pk=form.instance.pk).first()
                   if form.instance.pk else None)
        if current is not None and current.lesson_id == data["lesson"].pk:
            if form.has_changed():
                changed.append((services.lesson_application_update(
                    application=current, user=user, applied_at=data.get("applied_at"),
                    note=data.get("note") or ""), form.changed_data))
            continue
        if current is not None:  # moved to another lesson: withdraw, then record anew
            services.lesson_application_delete(application=current, user=user)
        new.append(services.lesson_apply(lesson=data["lesson"], user=user, experiment=experiment,
                                         postmortem=postmortem, applied_at=data.get("applied_at"),
                                         note=data.get("note") or ""))
    ServiceAdmin.mark_formset_saved(formset, new, changed, deleted)


@admin.register(Experiment)
class ExperimentAdmin(ServiceAdmin):
    list_display = ["title", "team", "outcome", "failure_kind", "failure_mode", "is_novel", "started_at",
                    "ended_at", "version"]
    list_filter = ["team", "outcome", "failure_kind", "failure_mode", "is_novel", "repeat_link_source"]
    search_fields = ["title", "hypothesis", "approach", "external_id", "error_type"]
    date_hierarchy = "started_at"
    raw_id_fields = ["builds_on", "repeat_of"]
    readonly_fields = ["repeat_link_source", "created_by", "version", "created_at", "updated_at"]
    list_select_related = ["team"]
    inlines = [LessonInline, LessonApplicationInline]
    fieldsets = [
        (None, {"fields": ["team", "title", "hypothesis", "approach", "is_novel", "builds_on"]}),
        ("Run", {"fields": ["started_at", "ended_at", "metrics", "next_steps", "external_id"]}),
        ("Outcome", {"fields": ["outcome", "failure_kind", "failure_mode", "repeat_of", "repeat_link_source"]}),
        ("Crash report", {"fields": ["error_type", "error_message", "error_trace", "time_to_failure"],
                          "classes": ["collapse"]}),
        ("Bookkeeping", {"fields": ["created_by", "version", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # An experiment stays with its team (its lessons and figures belong to that team).
        return [*self.readonly_fields, "team"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        data = {name: form.cleaned_data[name] for name in services.EXPERIMENT_FIELDS if name in form.cleaned_data}
        if change:
            saved = services.experiment_update(experiment=Experiment.objects.get(pk=obj.pk), user=request.user,
                                               data=data)
        else:
            saved = services.experiment_create(team=form.cleaned_data["team"], user=request.user, data=data)
        obj.pk, obj.version, obj.created_by_id = saved.pk, saved.version, saved.created_by_id
        obj._state.adding = False

    def save_formset(self, request, form, formset, change) -> None:
        experiment = Experiment.objects.get(pk=form.instance.pk)
        if formset.model is Lesson:
            kept = sorted(_kept_forms(formset), key=lambda f: (f.cleaned_data.get("position") or 0))
            lessons = [{"text": f.cleaned_data["text"], "documented_at": f.cleaned_data.get("documented_at"),
                        **({"id": f.instance.pk} if f.instance.pk else {})} for f in kept]
            services.lessons_replace(team=experiment.team, experiment=experiment, lessons=lessons,
                                     user=request.user)
            self.mark_formset_saved(formset, deleted=[f.instance for f in _deleted_forms(formset)])
        else:
            save_application_formset(formset, user=request.user, experiment=experiment)

    def delete_model(self, request, obj) -> None:
        services.experiment_delete(experiment=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for experiment in queryset:
            services.experiment_delete(experiment=experiment, user=request.user)


@admin.register(Lesson)
class LessonAdmin(ServiceAdmin):
    list_display = ["__str__", "team", "experiment", "postmortem", "documented_at"]
    list_filter = ["team"]
    search_fields = ["text"]
    date_hierarchy = "documented_at"
    fields = ["experiment", "postmortem", "text", "documented_at", "position", "created_by"]
    raw_id_fields = ["experiment", "postmortem"]
    readonly_fields = ["position", "created_by"]
    list_select_related = ["team", "experiment", "postmortem"]

    def get_readonly_fields(self, request, obj=None):
        # A lesson stays with the record it was learned from.
        return [*self.readonly_fields, "experiment", "postmortem"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            saved = services.lesson_update(lesson=Lesson.objects.get(pk=obj.pk), user=request.user,
                                           text=data.get("text"), documented_at=data.get("documented_at"))
        else:
            saved = services.lesson_create(text=data.get("text", ""), user=request.user,
                                           experiment=data.get("experiment"), postmortem=data.get("postmortem"),
                                           documented_at=data.get("documented_at"))
        obj.pk, obj.team_id, obj.position = saved.pk, saved.team_id, saved.position
        obj._state.adding = False

    def delete_model(self, request, obj) -> None:
        services.lesson_delete(lesson=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for lesson in queryset:
            services.lesson_delete(lesson=lesson, user=request.user)


@admin.register(LessonApplication)
class LessonApplicationAdmin(ServiceAdmin):
    list_display = ["lesson", "experiment", "postmortem", "applied_at", "applied_by"]
    list_filter = ["lesson__team"]
    search_fields = ["lesson__text", "note"]
    date_hierarchy = "applied_at"
    fields = ["lesson", "experiment", "postmortem", "applied_at", "note", "action_item", "applied_by"]
    raw_id_fields = ["lesson", "experiment", "postmortem"]
    readonly_fields = ["action_item", "applied_by"]
    list_select_related = ["lesson", "experiment", "postmortem", "applied_by"]

    def get_readonly_fields(self, request, obj=None):
        # Moving evidence to another lesson or place is withdrawing it and recording it anew.
        if obj is not None:
            return [*self.readonly_fields, "lesson", "experiment", "postmortem"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            saved = services.lesson_application_update(
                application=LessonApplication.objects.select_related("lesson").get(pk=obj.pk), user=request.user,
                applied_at=data.get("applied_at"), note=data.get("note") or "")
        else:
            saved = services.lesson_apply(lesson=data["lesson"], user=request.user, experiment=data.get("experiment"),
                                          postmortem=data.get("postmortem"), applied_at=data.get("applied_at"),
                                          note=data.get("note") or "")
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj) -> None:
        services.lesson_application_delete(application=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for application in queryset.select_related("lesson"):
            services.lesson_application_delete(application=application, user=request.user)


@admin.register(MlflowMapping)
class MlflowMappingAdmin(admin.ModelAdmin):
    """Which MLflow experiment feeds which team. Leads manage their own teams' mappings."""

    list_display = ["experiment_name", "tracking_uri", "team", "enabled", "detect_repeats", "last_synced_at",
                    "last_result"]
    list_filter = ["enabled", "team"]
    readonly_fields = ["cursor_start_time", "last_synced_at", "last_result"]
    actions = ["sync_now", "reset_cursor"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("team")
        return queryset if is_privileged(request.user) else queryset.filter(team_id__in=lead_team_ids_for(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team" and not is_privileged(request.user):
            kwargs["queryset"] = db_field.related_model.objects.filter(pk__in=lead_team_ids_for(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        queued = sum(enqueue_by_name("experiments.tasks.sync_mlflow_mapping", pk)
                     for pk in queryset.filter(enabled=True).values_list("pk", flat=True))
        self.message_user(request, f"{queued} sync(s) queued (disabled mappings are skipped).")

    @admin.action(description="Re-read every run (reset the cursor)")
    def reset_cursor(self, request, queryset):
        count = queryset.update(cursor_start_time=None)
        self.message_user(request, f"{count} mapping(s) will re-read all their runs on the next sync.")


@admin.register(MlflowRun)
class MlflowRunAdmin(admin.ModelAdmin):
    """Which MLflow run each imported experiment came from (written by the sync only)."""

    list_display = ["run_id", "experiment", "mapping", "synced_version", "synced_at"]
    list_filter = ["mapping"]
    search_fields = ["run_id", "experiment__title"]
    list_select_related = ["experiment", "mapping"]
    readonly_fields = ["mapping", "experiment", "run_id", "fingerprint", "synced_version", "synced_at"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if is_privileged(request.user) else queryset.filter(
            experiment__team_id__in=lead_team_ids_for(request.user))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
