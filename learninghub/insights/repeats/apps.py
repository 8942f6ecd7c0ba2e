from django.apps import AppConfig


class RepeatsConfig(AppConfig):
    name = "learninghub.insights.repeats"
    label = "repeats"
    verbose_name = "Repeat-failure detection"

    def ready(self) -> None:
        from learninghub.insights.repeats import receivers  # noqa: F401 - connects the post_save receivers
