from celery import shared_task

from learninghub.insights.repeats import services


@shared_task(name="repeats.tasks.detect_repeat")
def detect_repeat(failure_type: str, failure_id: int) -> int | None:
    """Look for an earlier failure this one repeats. Idempotent; a deleted record is a no-op."""
    candidate = services.detect_repeat(failure_type=failure_type, failure_id=failure_id)
    return candidate.pk if candidate else None
