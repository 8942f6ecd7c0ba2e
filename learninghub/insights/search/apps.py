from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "learninghub.insights.search"
    label = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from learninghub.insights.search import receivers  # noqa: F401 - keeps the index in sync
