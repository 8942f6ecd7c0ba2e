from django.contrib import admin

from postmortems.models import ActionItem, PostMortem


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ["position", "description", "owner", "due_date", "status", "completed_at", "lesson", "last_reminded_on"]
    raw_id_fields = ["owner", "lesson"]


@admin.register(PostMortem)
class PostMortemAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "severity", "status", "restricted", "occurred_at", "resolved_at", "version"]
    list_filter = ["team", "severity", "status", "restricted", "failure_mode", "production_impact"]
    search_fields = ["title", "what_happened", "root_cause"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["experiment", "repeat_of", "created_by"]
    filter_horizontal = ["authors"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ActionItemInline]

    def save_model(self, request, obj, form, change):
        if change:
            obj.version += 1  # so an open page or API client editing the old version is refused
        super().save_model(request, obj, form, change)


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ["description", "postmortem", "owner", "due_date", "status", "completed_at", "last_reminded_on"]
    list_filter = ["status", "postmortem__team"]
    search_fields = ["description", "postmortem__title", "owner__username"]
    raw_id_fields = ["postmortem", "owner", "lesson"]
    list_select_related = ["postmortem", "owner"]
