from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "learninghub.metrics"
    label = "metrics"
    verbose_name = "Learning metrics"
