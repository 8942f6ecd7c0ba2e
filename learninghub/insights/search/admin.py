"""The search index, read-only: it is derived from the records (``rebuild_search_index`` remakes it)."""

from django.contrib import admin

from learninghub.insights.search.models import SearchDocument


@admin.register(SearchDocument)
class SearchDocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "team", "restricted", "dated_at", "indexed_at"]
    list_filter = ["kind", "restricted", "team"]
    search_fields = ["title"]
    list_select_related = ["team"]
    readonly_fields = [field.name for field in SearchDocument._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
