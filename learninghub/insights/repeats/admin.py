from django.contrib import admin

from learninghub.insights.repeats.models import RepeatCandidate, RepeatDecision


class RepeatDecisionInline(admin.TabularInline):
    model = RepeatDecision
    extra = 0
    readonly_fields = ["from_status", "to_status", "by", "at", "note"]
    can_delete = False


@admin.register(RepeatCandidate)
class RepeatCandidateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "team", "failure_type", "score", "method", "status", "decided_by", "created_at"]
    list_filter = ["status", "method", "failure_type", "team"]
    raw_id_fields = ["experiment", "earlier_experiment", "postmortem", "earlier_postmortem", "decided_by"]
    inlines = [RepeatDecisionInline]


@admin.register(RepeatDecision)
class RepeatDecisionAdmin(admin.ModelAdmin):
    list_display = ["candidate", "from_status", "to_status", "by", "at"]
    list_filter = ["to_status"]
    raw_id_fields = ["candidate", "by"]
