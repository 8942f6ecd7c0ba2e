"""Fixtures for the alert tests: a real HTTP receiver on 127.0.0.1 and subscription helpers."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from learninghub.insights.alerts import channels
from learninghub.insights.alerts.models import Channel, Subscription


@dataclass
class Received:
    headers: dict
    body: bytes
    answered: object
    verified: bool | None

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the test server answers (``plan``: status codes or ``"hang"``, then 200) and what it got."""

    url: str = ""
    plan: list = field(default_factory=list)
    secret: str = ""
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.requests if r.answered == 200]


@pytest.fixture
def receiver(settings):
    """A threading ``http.server`` on 127.0.0.1 (private addresses allowed for the test, short timeout).
    It verifies the HMAC signature of the generic webhook when ``secret`` is set."""
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    settings.ALERT_WEBHOOK_TIMEOUT = 1
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            verified = None
            if state.secret:
                verified = channels.verify(state.secret, self.headers.get(channels.TIMESTAMP_HEADER, ""), body,
                                           self.headers.get(channels.SIGNATURE_HEADER, ""))
            action = state.plan.pop(0) if state.plan else 200
            state.requests.append(Received(dict(self.headers), body, action, verified))
            if action == "hang":
                state.release.wait(10)
                return
            self.send_response(action)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what the code defers to commit (deliveries), as a committed transaction would."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


def team_webhook(team, owner, receiver, *, channel=Channel.WEBHOOK, kinds=("system_burst",)) -> Subscription:
    """A team channel posting to ``receiver`` (by default only crashed-run bursts: the tests' alert)."""
    subscription = Subscription.objects.create(owner=owner, team=team, channel=channel, target=receiver.url,
                                               kinds=list(kinds))
    receiver.secret = subscription.secret if channel == Channel.WEBHOOK else ""
    return subscription
