from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from learninghub.kernel import outbox
from learninghub.kernel.models import ApiToken, IdempotencyKey, Membership, OutboxMessage, Team


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


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    """Read-only: the first answers to API creates sent with an ``Idempotency-Key``, kept a day."""

    list_display = ["key", "user", "status_code", "created_at"]
    list_filter = ["status_code"]
    search_fields = ["key", "user__username"]
    readonly_fields = ["user", "key", "request_hash", "status_code", "response_body", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Work after a write still waiting for the broker (normally empty: rows go once published).
    Read-only; "Publish now" tries the selected rows at once instead of waiting for the drain."""

    list_display = ["task", "args", "attempts", "created_at", "available_at", "last_error"]
    list_filter = ["task"]
    search_fields = ["task", "last_error"]
    readonly_fields = ["task", "args", "eta", "created_at", "available_at", "attempts", "last_error"]
    actions = ["publish_now"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Publish selected messages now")
    def publish_now(self, request, queryset) -> None:
        selected = list(queryset)
        published = sum(1 for message in selected if outbox.publish(message))
        left = OutboxMessage.objects.filter(pk__in=[message.pk for message in selected]).count()
        self.message_user(request, f"{published} published; {left} still waiting for the broker.",
                          messages.SUCCESS if not left else messages.WARNING)
