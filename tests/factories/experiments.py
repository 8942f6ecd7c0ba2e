import datetime as dt

import factory
from django.utils import timezone

from experiments.models import Experiment, Lesson, LessonApplication, Outcome
from tests.factories import TeamFactory, UserFactory


class ExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Experiment

    team = factory.SubFactory(TeamFactory)
    title = factory.Sequence(lambda n: f"Experiment {n}")
    hypothesis = factory.Faker("sentence")
    approach = factory.Faker("paragraph")
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=3))
    outcome = Outcome.IN_PROGRESS
    created_by = factory.SubFactory(UserFactory)

    class Params:
        failed = factory.Trait(
            outcome=Outcome.FAILURE,
            failure_kind="productive",
            failure_mode="overfitting",
            ended_at=factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(days=1)),
        )
        succeeded = factory.Trait(
            outcome=Outcome.SUCCESS,
            ended_at=factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(days=1)),
        )
        # A run that crashed: a system failure with what the script reported.
        crashed = factory.Trait(
            outcome=Outcome.FAILURE,
            failure_kind="system",
            failure_mode="infrastructure",
            ended_at=factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(hours=2)),
            error_type="torch.OutOfMemoryError",
            error_message="CUDA out of memory",
            error_trace='Traceback (most recent call last):\n  File "train.py", line 1, in <module>\n'
                        "torch.OutOfMemoryError: CUDA out of memory",
        )


class LessonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lesson

    experiment = factory.SubFactory(ExperimentFactory)
    team = factory.LazyAttribute(lambda o: (o.experiment or o.postmortem).team)
    postmortem = None
    text = factory.Faker("sentence")
    documented_at = factory.LazyFunction(timezone.now)


class LessonApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LessonApplication

    lesson = factory.SubFactory(LessonFactory)
    experiment = factory.SubFactory(ExperimentFactory, team=factory.SelfAttribute("..lesson.team"))
    postmortem = None
    applied_at = factory.LazyFunction(timezone.now)
    note = "Applied"
