from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "learninghub.insights.alerts"
    label = "alerts"
    verbose_name = "Alerts, digests and integrations"

    def ready(self) -> None:
        from learninghub.insights.alerts import receivers
        from learninghub.kernel.events import team_records_changed

        team_records_changed.connect(receivers.on_team_records_changed, dispatch_uid="alerts-team-records-changed")
