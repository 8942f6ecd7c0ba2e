import datetime as dt

import factory
from django.utils import timezone

from postmortems.models import ActionItem, ActionItemStatus, PostMortem, PostMortemStatus, Severity
from tests.factories import TeamFactory, UserFactory


class PostMortemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PostMortem
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    title = factory.Sequence(lambda n: f"Incident {n}")
    severity = Severity.SEV3
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=2))
    detected_at = factory.LazyAttribute(lambda o: o.occurred_at + dt.timedelta(hours=4))
    resolved_at = factory.LazyAttribute(lambda o: o.detected_at + dt.timedelta(hours=20))
    what_happened = "- The nightly job failed"
    root_cause = "- A schema change upstream"
    what_went_well = "- Rollback worked"
    failure_mode = "data_quality"
    status = PostMortemStatus.PUBLISHED
    created_by = factory.SubFactory(UserFactory)

    class Params:
        draft = factory.Trait(status=PostMortemStatus.DRAFT)
        secret = factory.Trait(restricted=True)


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionItem

    postmortem = factory.SubFactory(PostMortemFactory)
    description = factory.Faker("sentence")
    owner = factory.SubFactory(UserFactory)
    due_date = factory.LazyFunction(lambda: timezone.now().date() + dt.timedelta(days=7))

    class Params:
        overdue = factory.Trait(
            due_date=factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=3)),
            status=ActionItemStatus.OPEN,
        )
        done = factory.Trait(status=ActionItemStatus.DONE, completed_at=factory.LazyFunction(timezone.now))
