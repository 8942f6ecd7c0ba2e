"""Schedule repeat detection when a failure is recorded (after the transaction commits)."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from experiments.models import Experiment, Outcome
from learninghub.insights.repeats.models import FailureType
from learninghub.kernel.queue import enqueue
from postmortems.models import PostMortem


def _schedule(failure_type: str, failure_id: int) -> None:
    from learninghub.insights.repeats.tasks import detect_repeat

    transaction.on_commit(lambda: enqueue(detect_repeat, failure_type, failure_id), robust=True)


@receiver(post_save, sender=Experiment, dispatch_uid="repeats-experiment-saved")
def experiment_saved(sender, instance: Experiment, raw: bool = False, **kwargs) -> None:
    if not raw and instance.outcome == Outcome.FAILURE and instance.repeat_of_id is None:
        _schedule(FailureType.EXPERIMENT, instance.pk)


@receiver(post_save, sender=PostMortem, dispatch_uid="repeats-postmortem-saved")
def postmortem_saved(sender, instance: PostMortem, raw: bool = False, **kwargs) -> None:
    if not raw and instance.repeat_of_id is None and (instance.what_happened or instance.root_cause):
        _schedule(FailureType.POSTMORTEM, instance.pk)
