"""Admin for the awards. Categories are added, renamed and retired here; a cycle's state only moves
through the service (an admin action), so every move is recorded and closing computes winners."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from awards import services
from awards.models import Award, AwardCategory, AwardCycle, CycleTransition, Nomination, Vote
from learninghub.kernel.admin import ServiceAdmin
from learninghub.kernel.api.exceptions import DomainConflictError


@admin.register(AwardCategory)
class AwardCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "position", "nomination_count", "award_count"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["retire", "reactivate"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(nomination_total=Count("nominations", distinct=True),
                                                      award_total=Count("awards", distinct=True))

    @admin.display(ordering="nomination_total", description="Nominations")
    def nomination_count(self, obj) -> int:
        return obj.nomination_total

    @admin.display(ordering="award_total", description="Awards")
    def award_count(self, obj) -> int:
        return obj.award_total

    def get_readonly_fields(self, request, obj=None):
        # The slug names a category in URLs and the API; keep it once the category has history.
        if obj is not None and (obj.nominations.exists() or obj.awards.exists()):
            return ["slug"]
        return []

    def get_prepopulated_fields(self, request, obj=None):
        return {} if "slug" in self.get_readonly_fields(request, obj) else self.prepopulated_fields

    @admin.action(description="Retire selected categories (keeps their history)")
    def retire(self, request, queryset) -> None:
        count = queryset.update(is_active=False)
        self.message_user(request, f"Retired {count} categor{'y' if count == 1 else 'ies'}.")

    @admin.action(description="Reactivate selected categories")
    def reactivate(self, request, queryset) -> None:
        count = queryset.update(is_active=True)
        self.message_user(request, f"Reactivated {count} categor{'y' if count == 1 else 'ies'}.")


class CycleTransitionInline(admin.TabularInline):
    model = CycleTransition
    extra = 0
    can_delete = False
    readonly_fields = ["from_state", "to_state", "by", "at", "automatic"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AwardInline(admin.TabularInline):
    model = Award
    extra = 0
    can_delete = False
    readonly_fields = ["category", "winner", "votes"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AwardCycle)
class AwardCycleAdmin(admin.ModelAdmin):
    list_display = ["month", "state", "nominations_close_on", "voting_close_on", "closed_at", "announced_at"]
    list_filter = ["state"]
    date_hierarchy = "month"
    readonly_fields = ["state", "closed_at", "announced_at", "created_at", "updated_at"]
    inlines = [CycleTransitionInline, AwardInline]
    actions = ["advance"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "month"] if obj is not None else self.readonly_fields

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:  # deadlines follow from the month (AWARDS_NOMINATIONS_CLOSE_DAY)
            return ["month"]
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        cycle, _created = services.cycle_open(month=obj.month, by=request.user)
        obj.pk = cycle.pk
        obj.refresh_from_db()

    @admin.action(description="Advance selected cycles one stage (recorded with your name)")
    def advance(self, request, queryset) -> None:
        for cycle in queryset.order_by("month"):
            try:
                services.cycle_advance(cycle=cycle, by=request.user)
            except DomainConflictError as exc:
                self.message_user(request, str(exc), level=messages.WARNING)
            else:
                self.message_user(request, f"{cycle}: now {cycle.get_state_display().lower()}.")


@admin.register(CycleTransition)
class CycleTransitionAdmin(admin.ModelAdmin):
    list_display = ["cycle", "from_state", "to_state", "by", "at", "automatic"]
    list_filter = ["automatic", "to_state"]
    search_fields = ["by__username"]
    list_select_related = ["cycle", "by"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the history of moves is not edited

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Nomination)
class NominationAdmin(ServiceAdmin):
    """Nominations added here go through the rules (stage, no self-nomination, one each); a
    nomination is not edited afterwards (votes may rest on it), only removed."""

    list_display = ["cycle", "category", "nominee", "nominator", "created_at"]
    list_filter = ["category", "cycle"]
    search_fields = ["nominee__username", "nominator__username", "reason"]
    list_select_related = ["cycle", "category", "nominee", "nominator"]
    raw_id_fields = ["experiment", "postmortem"]
    autocomplete_fields = ["nominee", "nominator"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        saved = services.nomination_create(cycle=data["cycle"], category=data["category"],
                                           nominator=data["nominator"], nominee=data["nominee"],
                                           reason=data.get("reason", ""), experiment=data.get("experiment"),
                                           postmortem=data.get("postmortem"))
        obj.pk = saved.pk
        obj._state.adding = False


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    """Read-only: votes are cast by people, through the rules."""

    list_display = ["cycle", "category", "voter", "nominee", "updated_at"]
    list_filter = ["category", "cycle"]
    search_fields = ["voter__username", "nominee__username"]
    list_select_related = ["cycle", "category", "voter", "nominee"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Award)
class AwardAdmin(admin.ModelAdmin):
    """Read-only: awards are computed when a cycle closes."""

    list_display = ["cycle", "category", "winner", "votes"]
    list_filter = ["category", "cycle"]
    search_fields = ["winner__username"]
    list_select_related = ["cycle", "category", "winner"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False
