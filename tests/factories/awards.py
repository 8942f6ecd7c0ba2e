import datetime as dt

import factory

from awards.models import Award, AwardCategory, AwardCycle, CycleState, Nomination, Vote, cycle_deadlines
from tests.factories import UserFactory


class AwardCategoryFactory(factory.django.DjangoModelFactory):
    """Seeded categories exist after migrations, but transactional tests flush them: get or create."""

    class Meta:
        model = AwardCategory
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    description = factory.Faker("sentence")
    is_active = True


class AwardCycleFactory(factory.django.DjangoModelFactory):
    """A cycle created directly in a given state (no transitions); use the services to move it."""

    class Meta:
        model = AwardCycle
        django_get_or_create = ["month"]

    month = dt.date(2026, 3, 1)
    state = CycleState.NOMINATING
    nominations_close_on = factory.LazyAttribute(lambda o: cycle_deadlines(o.month)[0])
    voting_close_on = factory.LazyAttribute(lambda o: cycle_deadlines(o.month)[1])


class NominationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Nomination

    cycle = factory.SubFactory(AwardCycleFactory)
    category = factory.SubFactory(AwardCategoryFactory)
    nominee = factory.SubFactory(UserFactory)
    nominator = factory.SubFactory(UserFactory)
    reason = factory.Faker("sentence")


class VoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vote

    cycle = factory.SubFactory(AwardCycleFactory)
    category = factory.SubFactory(AwardCategoryFactory)
    voter = factory.SubFactory(UserFactory)
    nominee = factory.SubFactory(UserFactory)


class AwardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Award

    cycle = factory.SubFactory(AwardCycleFactory, state=CycleState.CLOSED)
    category = factory.SubFactory(AwardCategoryFactory)
    winner = factory.SubFactory(UserFactory)
    votes = 1
