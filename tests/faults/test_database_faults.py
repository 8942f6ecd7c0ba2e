"""PostgreSQL faults: connections killed between requests, and the database unreachable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import PROJECT_ROOT
from tests.factories import issue_token
from tests.factories.experiments import ExperimentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def terminate_other_backends() -> int:
    """``pg_terminate_backend`` on every other connection to the test database (the app's pool)."""
    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"] or "localhost", port=db["PORT"] or 5432, user=db["USER"],
                         password=db["PASSWORD"], dbname=db["NAME"], autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


def test_connections_killed_between_requests_fail_no_request(live_server, team, member):
    """The pool's health check (``CONN_HEALTH_CHECKS``) replaces a killed connection before a
    request gets it. The pool starts fresh here (earlier tests may have grown it): with all ten
    connections of a full pool killed at once, psycopg_pool checks them one at a time with a
    back-off between failures, and a request can outwait the pool's 10 s timeout (it then gets
    a 503 with ``Retry-After``, not a 500) — an open limitation, not what this test measures."""
    ExperimentFactory.create_batch(3, team=team)
    _, key = issue_token(member)
    connection.close()  # this thread's connection goes back to the pool, to be killed with the rest
    connection.close_pool()
    statuses, killed = [], 0
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as http:
        for index in range(100):
            if index % 10 == 0:
                killed += terminate_other_backends()
            statuses.append(http.get("/api/v1/experiments/").status_code)
    print(f"\n{killed} connections terminated over 100 requests; statuses: {sorted(set(statuses))}")
    assert killed >= 10, "the pool's connections were there to kill"
    assert statuses == [200] * 100


PROBE = """
import json, django
django.setup()
from django.test import Client
answers = {}
client = Client(raise_request_exception=False)
client.cookies["sessionid"] = "a-session-the-database-would-know"
for path, headers in (("/api/v1/experiments/", {"Authorization": "Token not-checked"}), ("/experiments/", {})):
    response = client.get(path, headers=headers)
    answers[path] = {"status": response.status_code, "retry_after": response.get("Retry-After"),
                     "type": response.get("Content-Type"), "body": response.content.decode()}
print("ANSWERS " + json.dumps(answers))
"""


@pytest.mark.parametrize("url", [
    "postgres://learninghub:learninghub@127.0.0.1:1/learninghub",  # nothing listens there
    "DROPPED",  # a server that is up, but the database is gone
], ids=["dead-port", "dropped-database"])
def test_an_unreachable_database_answers_503_json_with_retry_after(url):
    if url == "DROPPED":
        db = settings.DATABASES["default"]
        server = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{server}/lh_faults_gone"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="learninghub.settings", SECRET_KEY=settings.SECRET_KEY,
               DATABASE_URL=url, ALLOWED_HOSTS="testserver", DEBUG="0", LOG_LEVEL="CRITICAL")
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    [line] = [line for line in result.stdout.splitlines() if line.startswith("ANSWERS ")]
    answers = json.loads(line.removeprefix("ANSWERS "))
    for path, answer in answers.items():
        assert answer["status"] == 503, (path, answer)
        assert answer["retry_after"] and int(answer["retry_after"]) > 0
        assert answer["type"] == "application/json"
        assert "Traceback" not in answer["body"] and json.loads(answer["body"])["detail"]
