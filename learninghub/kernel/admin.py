from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from learninghub.kernel.models import ApiToken, Membership, Team


def validation_messages(error: ValidationError) -> list[str]:
    """A service's ValidationError as lines for a person: ``field: message``."""
    if hasattr(error, "error_dict"):
        return [f"{'' if name == '__all__' else name.replace('_', ' ') + ': '}{message}"
                for name, messages_ in error.message_dict.items() for message in messages_]
    return list(error.messages)


class ServiceAdmin(admin.ModelAdmin):
    """An admin whose writes go through the app's services (``save_model``, ``delete_model`` and
    ``delete_queryset`` call them), so validation and change events can't be skipped.

    The admin runs each save in a transaction: when a service refuses the write, nothing is saved,
    and the page comes back with the service's messages.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            return self._refused(request, error)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:
            return self._refused(request, error)

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except ValidationError as error:
            return self._refused(request, error)

    def _refused(self, request, error: ValidationError):
        for line in validation_messages(error):
            self.message_user(request, f"Not saved: {line}", level=messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    @staticmethod
    def mark_formset_saved(formset, new=(), changed=(), deleted=()) -> None:
        """What ``formset.save()`` would have recorded, for the admin's change message."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = list(new), list(changed), \
            list(deleted)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).with_member_counts()

    @admin.display(ordering="member_count")
    def member_count(self, obj) -> int:
        return obj.member_count


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are issued from the profile page or create_api_token, never typed in

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        for token in queryset.active():
            token.revoke()
