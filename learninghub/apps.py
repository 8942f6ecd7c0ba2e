from django.apps import AppConfig


class LearningHubConfig(AppConfig):
    name = "learninghub"
    verbose_name = "LearningHub kernel"
