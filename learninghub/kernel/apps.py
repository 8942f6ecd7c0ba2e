from django.apps import AppConfig


class KernelConfig(AppConfig):
    """The bottom layer. Its label stays ``learninghub`` so tables and migrations keep their names."""

    name = "learninghub.kernel"
    label = "learninghub"
    verbose_name = "LearningHub kernel"

    def ready(self) -> None:
        from learninghub.kernel import checks  # noqa: F401 (registers the project's system checks)
