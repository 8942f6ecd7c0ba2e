"""Fault-injection fixtures: a Redis server and a Celery worker of the test's own.

Each test starts its own ``redis-server`` on a free port, so stopping it disturbs no other test
(nor the shared Redis of the CI run), and its own worker subprocess pointed at it, on the
production settings profile and the test database. The app under test (this process: the test
client or the live server) uses that Redis as its broker and cache too.

The fault tests need PostgreSQL (a real pool, real concurrent writers) and ``redis-server``:
they are skipped on the embedded SQLite defaults.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from kombu import pools

from tests.conftest import PROJECT_ROOT

# "[2026-12-02 06:07:10,839: INFO/MainProcess] Task repeats.tasks.detect_repeat[…] received"
RECEIVED = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+): INFO/MainProcess\] Task \S+ received")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(autouse=True)
def _needs_postgresql_and_redis_server():
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("fault tests run on the PostgreSQL + Redis run")
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")


class RedisServer:
    """A throw-away ``redis-server`` that a test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            # Persistent like production (compose runs Redis with ``--appendonly yes``): what the
            # broker accepted survives its restart.
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _point_celery_at(url: str) -> None:
    from learninghub.celery import app

    # kombu keeps one pool per broker URL in a global registry: closing a pool without clearing
    # the registry would hand that closed pool back when the URL is used again (later tests).
    with contextlib.suppress(Exception):
        pools.reset()
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def fault_broker(redis_server, settings, transactional_db):
    """This process publishes to (and caches in) the test's own Redis; tasks go to a worker."""
    from learninghub.celery import app
    from learninghub.kernel.cache import breaker as cache_breaker
    from learninghub.kernel.queue import breaker

    previous = app.conf.broker_url
    settings.CACHES = {"default": {**settings.CACHES.get("default", {}),
                                   "BACKEND": "learninghub.kernel.cache.ResilientRedisCache",
                                   "LOCATION": redis_server.url, "KEY_PREFIX": "learninghub",
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    _point_celery_at(redis_server.url)
    breaker.reset()
    cache_breaker.reset()
    yield redis_server
    breaker.reset()
    cache_breaker.reset()
    _point_celery_at(previous)


class Worker:
    """``celery worker`` subprocesses (in their own process group, so SIGKILL takes the pool too)."""

    def __init__(self, broker_url: str, env: dict[str, str]) -> None:
        self.broker_url = broker_url
        self.env = env
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []
        self.exits: list[int] = []

    def start(self, *, pool: str = "prefork", concurrency: int = 2) -> None:
        celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
        self.process = subprocess.Popen(
            [celery, "-A", "learninghub", "worker", f"--pool={pool}", f"--concurrency={concurrency}",
             "--loglevel=info", "--without-gossip", "--without-mingle", "--hostname", f"faults-{os.getpid()}@%h"],
            cwd=PROJECT_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        self.wait_ready()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 40) -> None:
        from learninghub.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail("celery worker exited early:\n" + "".join(self.lines[-60:]))
            if any("ready." in line for line in self.lines):
                with contextlib.suppress(Exception):
                    if app.control.inspect(timeout=0.5).ping():
                        return
            time.sleep(0.2)
        pytest.fail("celery worker did not come up:\n" + "".join(self.lines[-60:]))

    def received_at(self) -> list[float]:
        """When the worker received each task (Unix time), from its log (written in UTC)."""
        stamps = []
        for line in self.lines:
            match = RECEIVED.match(line)
            if match:
                moment = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=dt.UTC)
                stamps.append(moment.timestamp())
        return stamps

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        """SIGKILL the worker and its pool: no shutdown, no ack, no restore of unacked messages."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def fault_worker(fault_broker, tmp_path):
    """A worker factory on the test's Redis (``fault_worker.start()``); stopped at the end."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="learninghub.settings", SECRET_KEY=settings.SECRET_KEY,
               DATABASE_URL=_database_url(), REDIS_URL=fault_broker.url,
               METRICS_DEBOUNCE_SECONDS="1",
               BROKER_VISIBILITY_TIMEOUT="5", TZ="UTC")  # UTC: log times read back
    worker = Worker(fault_broker.url, env)
    yield worker
    worker.stop()
    (tmp_path / "worker.log").write_text(worker.log())  # kept by pytest for a look after a failure
