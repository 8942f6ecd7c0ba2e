#!/usr/bin/env python
"""Load benchmark of the dashboards and the API behind a real gunicorn (issue 15: pages p95 ≤ 50 ms,
API p95 ≤ 25 ms), steady and right after writes.

Reuses ``bench/metrics.py``'s organisation (``--scale``, default 0.1) in a PostgreSQL database of its
own (``--bench-db``, default ``learninghub_load_bench``; generated if missing), recomputes every
snapshot, then starts ``gunicorn learninghub.wsgi`` (2 workers) and a Celery worker with production's
settings (DEBUG off, static files collected under /tmp, Redis db 9 as broker and cache). ``--clients``
closed-loop clients (4) cycle over the team dashboard (12 and 60 months), the organisation dashboard,
the experiments list, one team's metrics API and the experiments API: "steady", then "after writes",
while an experiment's outcome is flipped through the API every ``--write-interval`` s (pages then
serve stale snapshots while the worker recomputes). Prints, per request and phase, count, errors,
answers served stale or computed live, p50/p95/max seen by the client (with queueing: more clients
than workers, and the client's own CPU) and by the server (gunicorn's access log), the verdicts,
each request's query count (in-process), and the CPU the web and Celery workers used per phase.

    DATABASE_URL=postgres://u:p@127.0.0.1/learninghub python bench/load.py
    DATABASE_URL=… python bench/load.py --scale 0.1 --clients 4 --duration 40
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse, urlunparse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench import metrics as data  # noqa: E402  (the generator: one copy for every benchmark)

REDIS_URL = "redis://127.0.0.1:6379/9"
GOALS_MS = {"page": 50.0, "api": 25.0}
MAX_DURATION = 60
WRITE_POOL = 20  # experiments whose outcome the writer flips, in turn
WRITE = "experiment PATCH (write)"
# Each request names its phase and kind in a header, so the access log gives its server time (µs).
ACCESS_LOG_FORMAT = "%({x-bench}i)s %(s)s %(D)s"


def database_url(args) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/load.py measures PostgreSQL: set DATABASE_URL=postgres://…")
    parsed = urlparse(url)
    data.ensure_postgres_database(parsed, args.bench_db)
    return urlunparse(parsed._replace(path=f"/{args.bench_db}"))


def prepare(args, url: str) -> dict:
    """Data (generated if missing), fresh snapshots, a session and an API token for the member,
    the experiments to flip, and every request's URL with its query count."""
    data.setup_django(url)  # in-process tasks and cache: nothing here touches the servers' Redis
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no STATIC_ROOT here
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from experiments.models import Experiment
    from learninghub.insights.metrics import engine
    from learninghub.kernel.models import ApiToken, Team
    from learninghub.kernel.periods import Month

    call_command("migrate", verbosity=0)
    counts = data.counts_for(args.scale)
    state = data.existing_data_state(args.teams, counts)
    if state == "foreign":
        sys.exit(f"refusing: {args.bench_db} holds teams that are not benchmark teams")
    if state != "matching":
        print(f"generating {args.teams} teams, " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        data.generate(args.teams, counts, args.seed)
    started = time.perf_counter()
    written = engine.recompute(engine.data_months())
    print(f"full recompute: {written:,} snapshots fresh in {time.perf_counter() - started:.1f} s")

    user = get_user_model().objects.get(username="bench-member")
    team = Team.objects.filter(memberships__user=user).order_by("slug").first()
    session = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"]).SessionStore()
    session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[-1],
                    HASH_SESSION_KEY: user.get_session_auth_hash()})
    session.create()
    _token, key = ApiToken.issue(user=user, name="bench/load.py")
    # Successful, ended within the last 11 months: a flip stales months the 12-month pages show.
    recent = timezone.now() - dt.timedelta(days=330)
    flips = list(Experiment.objects.filter(team=team, outcome="success", ended_at__gte=recent)
                 .order_by("-ended_at").values_list("pk", "version")[:WRITE_POOL])
    months = Month.range(Month.current().shift(-59), Month.current())
    requests = [
        ("team dashboard 12 months", "page", f"/dashboards/{team.slug}/"),
        ("team dashboard 60 months", "page", f"/dashboards/{team.slug}/?from={months[0].key}&to={months[-1].key}"),
        (f"organisation dashboard ({args.teams})", "page", "/"),
        ("experiments list page 1", "page", "/experiments/"),
        ("metrics API team 12 months", "api", f"/api/v1/metrics/?team={team.slug}"),
        ("experiments API page 1", "api", "/api/v1/experiments/"),
    ]
    client, queries = Client(), {}
    client.force_login(user)
    for label, kind, path in requests:
        extra = {"HTTP_AUTHORIZATION": f"Token {key}"} if kind == "api" else {}
        client.get(path, **extra)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, **extra)
        assert response.status_code == 200, (path, response.status_code)
        queries[label] = len(captured)
    return {"requests": requests, "queries": queries, "flips": flips, "token": key,
            "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"}


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    """In a process group of its own, so stopping it stops its workers too."""
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


def wait_until(check, what: str, logs: list[Path], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tails = "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-2000:]}" for log in logs)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s\n{tails}")


class Recorder:
    """(phase, label) → list of (ms, ok, stale, live); appended from every client thread."""

    def __init__(self) -> None:
        self.lock, self.samples, self.phase = threading.Lock(), {}, "warm-up"

    def add(self, label: str, ms: float, ok: bool, stale: bool = False, live: bool = False) -> None:
        with self.lock:
            self.samples.setdefault((self.phase, label), []).append((ms, ok, stale, live))


def freshness(response) -> tuple[bool, bool]:
    """(served stale, computed live) as the page's status or the metrics API's body says."""
    if response.headers.get("content-type", "").startswith("text/html"):
        text = response.text
        return 'data-status="pending"' in text, 'data-status="live"' in text
    if b'"results"' in response.content and b'"live"' in response.content:
        body = json.loads(response.content)
        return any(row.get("stale") for row in body.get("results", [])), bool(body.get("live"))
    return False, False


def reader(httpx, base: str, requests: list, auth: dict, offset: int, recorder: Recorder, done) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for label, kind, path in itertools.islice(itertools.cycle(requests), offset, None):
            if done.is_set():
                return
            started = time.perf_counter()
            try:
                response = client.get(path, headers={**auth[kind], "X-Bench": f"{recorder.phase}|{label}"})
                ms, ok = (time.perf_counter() - started) * 1000, response.status_code == 200
                recorder.add(label, ms, ok, *(freshness(response) if ok else (False, False)))
            except httpx.HTTPError:
                recorder.add(label, (time.perf_counter() - started) * 1000, False)


def writer(httpx, base: str, flips: list, auth: dict, interval: float, recorder: Recorder, go, done) -> None:
    """Flip an experiment's outcome (success ↔ failure) every ``interval`` seconds, sending back
    the ETag of its last answer in If-Match (``*`` after a failure)."""
    go.wait()
    etags, outcomes = {pk: f'W/"{version}"' for pk, version in flips}, dict.fromkeys(dict(flips), "success")
    with httpx.Client(base_url=base, timeout=10) as client:
        for pk in itertools.cycle(etags):
            if done.wait(interval):
                return
            outcome, started, ok = "failure" if outcomes[pk] == "success" else "success", time.perf_counter(), False
            try:
                headers = {**auth["api"], "If-Match": etags[pk], "X-Bench": f"after writes|{WRITE}"}
                response = client.patch(f"/api/v1/experiments/{pk}/", headers=headers,
                                        json={"outcome": outcome, "detect_repeats": False})
                ok = response.status_code == 200
                etags[pk] = response.headers.get("ETag", "*") if ok else "*"
                outcomes[pk] = outcome if ok else outcomes[pk]
            except httpx.HTTPError:
                etags[pk] = "*"
            recorder.add(WRITE, (time.perf_counter() - started) * 1000, ok)


def percentile(values: list[float], fraction: float) -> float:
    return values[round(fraction * (len(values) - 1))] if values else float("nan")


def server_times(access_log: Path) -> dict[tuple[str, str], list[float]]:
    """(phase, label) → sorted server times in ms, from gunicorn's access log (``ACCESS_LOG_FORMAT``)."""
    found: dict[tuple[str, str], list[float]] = {}
    for line in access_log.read_text(errors="replace").splitlines():
        tag, status, micros = line.rsplit(" ", 2)
        if "|" in tag and status == "200":
            found.setdefault(tuple(tag.split("|", 1)), []).append(int(micros) / 1000)
    return {key: sorted(values) for key, values in found.items()}


def verdict(kind: str | None, client: list[float], server: list[float]) -> str:
    if kind is None or not client:
        return ""
    goal, judge = GOALS_MS[kind], lambda values: "ok" if percentile(values, 0.95) <= GOALS_MS[kind] else "OVER"
    return f"server {judge(server)}, client {judge(client)} (p95 ≤ {goal:.0f} ms)"


def line(phase: str, label: str, counts: str, client: list[float], server: list[float], kind: str | None) -> str:
    figures = [f"{percentile(values, q):6.1f}" for values in (client, server) for q in (0.5, 0.95, 1.0)]
    return (f"{phase:13} {label:32} {counts:20} | {' '.join(figures[:3])} | {' '.join(figures[3:])} | "
            f"{verdict(kind, client, server)}")


def report(recorder: Recorder, prepared: dict, server: dict, seconds: float) -> None:
    kinds = {label: kind for label, kind, _ in prepared["requests"]}
    print(f"\n{'phase':13} {'request':32} {'count  err stale live':20} | {'client ms p50 p95 max':^20} | "
          f"{'server ms p50 p95 max':^20} | verdict")
    for phase in ("steady", "after writes"):
        pooled: dict[str, tuple[list, list]] = {kind: ([], []) for kind in GOALS_MS}
        for label in [label for label in [*kinds, WRITE] if (phase, label) in recorder.samples]:
            samples = recorder.samples[(phase, label)]
            timings, srv = sorted(ms for ms, ok, _s, _l in samples if ok), server.get((phase, label), [])
            if label in kinds:
                pooled[kinds[label]][0].extend(timings)
                pooled[kinds[label]][1].extend(srv)
            counts = (f"{len(samples):5} {sum(not s[1] for s in samples):4} {sum(s[2] for s in samples):5} "
                      f"{sum(s[3] for s in samples):4}")
            print(line(phase, label, counts, timings, srv, kinds.get(label)))
        for kind, (timings, srv) in pooled.items():
            print(line(phase, f"all {kind}s", f"{len(timings):5}", sorted(timings), sorted(srv), kind))
        reads = sum(len(recorder.samples.get((phase, label), [])) for label in kinds)
        print(f"{phase:13} {reads} reads in {seconds:.0f} s = {reads / seconds:.0f} req/s\n")
    print("queries per request (in-process, fresh snapshots): "
          + ", ".join(f"{label} {count}" for label, count in prepared["queries"].items()))


def collect_static(env: dict, work: Path) -> dict:
    """Production's settings but for STATIC_ROOT (in ``work``, not the checkout): collectstatic
    writes the manifest and compressed copies there, as the image build does."""
    (work / "load_settings.py").write_text("from learninghub.settings.base import *  # noqa: F403\n"
                                           f"STATIC_ROOT = {str(work / 'static')!r}\n")
    env = {**env, "DJANGO_SETTINGS_MODULE": "load_settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(work), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=PROJECT_ROOT,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return env


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and its children (gunicorn's or Celery's workers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, fields = int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        if root in (pid, int(fields[1])):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_load(httpx, args, prepared: dict, base: str, recorder: Recorder, pids: dict) -> dict:
    """Warm up, then ``duration / 2`` s steady and ``duration / 2`` s with the writer on; returns
    the CPU seconds of the clients (this process), and of ``pids`` (name → process) per phase."""
    auth = {"page": {"Cookie": prepared["cookie"]}, "api": {"Authorization": f"Token {prepared['token']}"}}
    for _ in range(3):  # both workers' caches and connections (not counted)
        for _label, kind, path in prepared["requests"]:
            httpx.get(base + path, headers=auth[kind], timeout=10)
    done, go = threading.Event(), threading.Event()
    threads = [threading.Thread(target=writer, daemon=True, args=(
        httpx, base, prepared["flips"], auth, args.write_interval, recorder, go, done))] + [threading.Thread(
            target=reader, daemon=True, args=(httpx, base, prepared["requests"], auth, i, recorder, done))
        for i in range(args.clients)]
    recorder.phase, cpu, marks = "steady", {"clients": -time.process_time()}, []
    for thread in threads:
        thread.start()
    for phase in ("steady", "after writes"):
        marks.append({name: cpu_seconds(pid) for name, pid in pids.items()})
        with recorder.lock:
            recorder.phase = phase
        if phase == "after writes":
            go.set()
        time.sleep(args.duration / 2)
        cpu.update({(name, phase): cpu_seconds(pid) - marks[-1][name] for name, pid in pids.items()})
    done.set()
    for thread in threads:
        thread.join(15)
    cpu["clients"] += time.process_time()
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of bench/metrics.py's counts (0.1)")
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bench-db", default="learninghub_load_bench", help="PostgreSQL database name")
    parser.add_argument("--clients", type=int, default=4, help="concurrent closed-loop clients (4)")
    parser.add_argument("--duration", type=float, default=40, help=f"seconds of load (40, ≤ {MAX_DURATION})")
    parser.add_argument("--write-interval", type=float, default=0.5, help="seconds between writes (0.5)")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be in (0, {MAX_DURATION}]")
    import httpx
    import redis

    url = database_url(args)
    prepared = prepare(args, url)
    if not prepared["flips"]:
        sys.exit("no recent successful experiment of the member's team to flip")
    redis.Redis.from_url(REDIS_URL).flushdb()  # db 9 is ours: no flag or task left by an earlier run
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.gettempdir()) / "learninghub-load-bench"
    work.mkdir(exist_ok=True)
    env = collect_static({**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "DEBUG": "0",
                          "SECRET_KEY": os.environ.get("SECRET_KEY") or "load-benchmark-only-secret-key",
                          "ALLOWED_HOSTS": "127.0.0.1,localhost", "SITE_URL": base, "LOG_LEVEL": "WARNING"}, work)
    web_log, worker_log, access_log = work / "gunicorn.log", work / "celery.log", work / "access.log"
    access_log.write_text("")
    bin_dir, processes, recorder, load_before = Path(sys.executable).parent, [], Recorder(), os.getloadavg()[0]
    try:
        processes.append(start([str(bin_dir / "gunicorn"), "learninghub.wsgi:application", "-w", "2",
                                "-b", f"127.0.0.1:{port}", "--access-logfile", str(access_log),
                                "--access-logformat", ACCESS_LOG_FORMAT], env, web_log))
        processes.append(start([str(bin_dir / "celery"), "-A", "learninghub", "worker", "--loglevel=info",
                                "--concurrency=2"], {**env, "LOG_LEVEL": "INFO"}, worker_log))

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, "gunicorn /healthz", [web_log])
        wait_until(lambda: " ready." in worker_log.read_text(errors="replace"), "celery worker", [worker_log])
        print(f"gunicorn (2 workers) on {base} and a celery worker up; logs in {work}")
        cpu = run_load(httpx, args, prepared, base, recorder, {"web": processes[0].pid, "worker": processes[1].pid})
    finally:
        for process in reversed(processes):
            stop(process)
    print(f"{args.clients} clients, {args.duration:.0f} s ({args.duration / 2:.0f} s per phase), a write every "
          f"{args.write_interval} s in the second; scale {args.scale} in {args.bench_db}; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after on {os.cpu_count()} CPUs; the clients used "
          f"{cpu['clients']:.1f} CPU s")
    report(recorder, prepared, server_times(access_log), args.duration / 2)
    runs = worker_log.read_text(errors="replace").count("metrics.tasks.recompute_stale[")
    print(f"the worker received {runs} recompute_stale run(s) (debounced writes, stale pages)")
    for phase in ("steady", "after writes"):
        served = sum(len(samples) for (p, _label), samples in recorder.samples.items() if p == phase)
        print(f"CPU, {phase}: gunicorn workers {cpu['web', phase]:.1f} s = {cpu['web', phase] * 1000 / served:.1f} "
              f"ms per request ({served}, writes included), celery worker {cpu['worker', phase]:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
