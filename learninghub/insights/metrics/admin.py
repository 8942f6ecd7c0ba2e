from django.contrib import admin

from learninghub.insights.metrics.models import MetricSnapshot


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(admin.ModelAdmin):
    list_display = ["month", "team", "experiments_started", "failures", "repeat_failure_rate",
                    "lesson_application_rate", "learning_efficiency_score", "computed_at", "is_stale"]
    list_filter = ["team", "month"]
    list_select_related = ["team"]
    date_hierarchy = "month"
    ordering = ["-month", "team__name"]
    readonly_fields = [field.name for field in MetricSnapshot._meta.fields]
    search_fields = ["team__name", "team__slug"]

    def has_add_permission(self, request) -> bool:
        return False  # computed by the engine, never typed in

    @admin.display(boolean=True, description="Stale")
    def is_stale(self, obj: MetricSnapshot) -> bool:
        return obj.is_stale
