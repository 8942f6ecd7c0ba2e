import pytest
from django.db import connection

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="typo tolerance comes from pg_trgm, PostgreSQL only")


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client
