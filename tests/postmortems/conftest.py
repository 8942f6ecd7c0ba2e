import pytest

from learninghub.kernel.models import Membership
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def teammate(team):
    """Another member of ``team``: a natural owner for action items."""
    return MembershipFactory(team=team, user=UserFactory(username="tia"), role=Membership.Role.MEMBER).user


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client
