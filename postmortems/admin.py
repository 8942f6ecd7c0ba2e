"""Admin for post-mortems and action items. Every save and delete goes through
``postmortems.services``: the admin validates like the form and the API (timeline, publishing,
owners), bumps the version, records lesson applications and tells the dashboards."""

from __future__ import annotations

from django.contrib import admin

from learninghub.kernel.admin import ServiceAdmin
from postmortems import services
from postmortems.models import ActionItem, PostMortem

ITEM_FIELDS = ("description", "owner", "due_date", "status", "completed_at", "lesson")


def _item_row(item: ActionItem) -> dict:
    return {"id": item.pk, **{name: getattr(item, name) for name in ITEM_FIELDS}}


def _rows_of(postmortem: PostMortem) -> list[dict]:
    return [_item_row(item) for item in postmortem.action_items.select_related("owner", "lesson")
            .order_by("position", "pk")]


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ["position", "description", "owner", "due_date", "status", "completed_at", "lesson", "last_reminded_on"]
    raw_id_fields = ["owner", "lesson"]
    readonly_fields = ["last_reminded_on"]


@admin.register(PostMortem)
class PostMortemAdmin(ServiceAdmin):
    list_display = ["title", "team", "severity", "status", "restricted", "occurred_at", "resolved_at", "version"]
    list_filter = ["team", "severity", "status", "restricted", "failure_mode", "production_impact"]
    search_fields = ["title", "what_happened", "root_cause"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["experiment", "repeat_of"]
    readonly_fields = ["authors_list", "created_by", "repeat_link_source", "version", "created_at", "updated_at"]
    exclude = ["authors"]
    inlines = [ActionItemInline]

    @admin.display(description="Authors")
    def authors_list(self, obj) -> str:
        return ", ".join(author.get_username() for author in obj.authors.all()) if obj.pk else ""

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "team"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        """Nothing yet: the post-mortem is written with its action items, as one unit, in
        ``save_related`` (once the inline rows are known)."""

    def save_related(self, request, form, formsets, change) -> None:
        fields = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS if name in form.cleaned_data}
        rows = None
        for formset in formsets:
            if formset.model is ActionItem:
                rows = self._item_rows(formset)
                self.mark_formset_saved(formset)
        if change:
            saved = services.postmortem_update(postmortem=PostMortem.objects.get(pk=form.instance.pk),
                                               user=request.user, fields=fields, action_items=rows)
        else:
            saved = services.postmortem_create(team=form.cleaned_data["team"], user=request.user, fields=fields,
                                               action_items=rows or [])
        form.instance.pk, form.instance.version = saved.pk, saved.version
        form.instance._state.adding = False

    @staticmethod
    def _item_rows(formset) -> list[dict]:
        kept = [f for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
                and (f.instance.pk is not None or f.has_changed())]
        kept.sort(key=lambda f: f.cleaned_data.get("position") or 0)
        return [{**({"id": f.instance.pk} if f.instance.pk else {}),
                 **{name: f.cleaned_data.get(name) for name in ITEM_FIELDS}} for f in kept]

    def delete_model(self, request, obj) -> None:
        services.postmortem_delete(postmortem=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for postmortem in queryset:
            services.postmortem_delete(postmortem=postmortem, user=request.user)


@admin.register(ActionItem)
class ActionItemAdmin(ServiceAdmin):
    """One action item at a time, written as its post-mortem's list of items (the same service as
    the post-mortem form, so the same rules hold)."""

    list_display = ["description", "postmortem", "owner", "due_date", "status", "completed_at", "last_reminded_on"]
    list_filter = ["status", "postmortem__team"]
    search_fields = ["description", "postmortem__title", "owner__username"]
    fields = ["postmortem", "description", "owner", "due_date", "status", "completed_at", "lesson",
              "last_reminded_on"]
    raw_id_fields = ["postmortem", "owner", "lesson"]
    readonly_fields = ["last_reminded_on"]
    list_select_related = ["postmortem", "owner"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "postmortem"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        postmortem = PostMortem.objects.get(pk=(obj.postmortem_id if change else form.cleaned_data["postmortem"].pk))
        row = {name: form.cleaned_data.get(name) for name in ITEM_FIELDS}
        rows = _rows_of(postmortem)
        if change:
            rows = [{**current, **row} if current["id"] == obj.pk else current for current in rows]
        else:
            rows.append(row)
        before = set(postmortem.action_items.values_list("pk", flat=True))
        services.postmortem_update(postmortem=postmortem, user=request.user, fields={}, action_items=rows)
        if not change:
            obj.pk = postmortem.action_items.exclude(pk__in=before).values_list("pk", flat=True).get()
            obj._state.adding = False

    def delete_model(self, request, obj) -> None:
        self._delete(request, [obj])

    def delete_queryset(self, request, queryset) -> None:
        self._delete(request, list(queryset))

    def _delete(self, request, items: list[ActionItem]) -> None:
        by_postmortem: dict[int, set[int]] = {}
        for item in items:
            by_postmortem.setdefault(item.postmortem_id, set()).add(item.pk)
        for postmortem_id, item_ids in by_postmortem.items():
            postmortem = PostMortem.objects.get(pk=postmortem_id)
            rows = [row for row in _rows_of(postmortem) if row["id"] not in item_ids]
            services.postmortem_update(postmortem=postmortem, user=request.user, fields={}, action_items=rows)
