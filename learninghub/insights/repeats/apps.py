from django.apps import AppConfig


class RepeatsConfig(AppConfig):
    name = "learninghub.insights.repeats"
    label = "repeats"
    verbose_name = "Repeat-failure detection"

    def ready(self) -> None:
        from learninghub.insights.repeats.tasks import on_failure_recorded
        from learninghub.kernel.events import failure_recorded

        failure_recorded.connect(on_failure_recorded, dispatch_uid="repeats-failure-recorded")
