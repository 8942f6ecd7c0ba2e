from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-mortems"

    def ready(self) -> None:
        # Register the Celery tasks with the app as soon as Django is set up (beat's schedule
        # names them; autodiscovery alone only runs when a worker starts).
        from postmortems import tasks  # noqa: F401
