from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "learninghub.insights.search"
    label = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from learninghub.insights.search import receivers  # noqa: F401 - keeps the index in sync
        from learninghub.insights.search.selectors import list_search_ids
        from learninghub.kernel.search import register_text_search

        register_text_search(list_search_ids)  # the list pages' ``search`` uses this engine
