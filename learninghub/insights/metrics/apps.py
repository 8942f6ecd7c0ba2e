from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "learninghub.insights.metrics"
    label = "metrics"
    verbose_name = "Learning metrics"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from learninghub.insights.metrics.scheduling import on_team_records_changed, sweep_stale
        from learninghub.insights.metrics.sql import register_sqlite_functions
        from learninghub.kernel.events import team_records_changed
        from learninghub.kernel.outbox import register_sweep

        connection_created.connect(register_sqlite_functions, dispatch_uid="metrics-sqlite-functions")
        team_records_changed.connect(on_team_records_changed, dispatch_uid="metrics-team-records-changed")
        register_sweep(sweep_stale)
