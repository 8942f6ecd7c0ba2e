#!/usr/bin/env python
"""MLflow import throughput: runs/s for a first import of N runs (default 10,000) from a local
MLflow tracking server, and the cost of a re-sync with nothing changed (a cursor check: one
short page, no writes).

Needs the test-only MLflow virtualenv (``make .venv-mlflow/.installed``). The server's data
(``--data-dir``) is kept, so populating the runs (written straight into the server's SQLite
store by the real mlflow client) happens once; LearningHub's side is a fresh in-memory SQLite test database each time.

    python bench/mlflow.py                 # 10,000 runs
    python bench/mlflow.py --runs 500      # a quick look
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from inmemory import PROJECT_ROOT, setup_django

MLFLOW_BIN = PROJECT_ROOT / ".venv-mlflow" / "bin" / "mlflow"


def start_server(data_dir: Path):
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(MLFLOW_BIN), "server", "--backend-store-uri", f"sqlite:///{data_dir / 'mlflow.db'}",
         "--artifacts-destination", str(data_dir / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    for _ in range(360):
        try:
            if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                return process, uri
        except httpx.TransportError:
            time.sleep(0.5)
    os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit("mlflow server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/learninghub-mlflow-bench"))
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()
    if not MLFLOW_BIN.exists():
        raise SystemExit(f"{MLFLOW_BIN} is missing: run `make .venv-mlflow/.installed`")
    experiment = f"bench-{args.runs}"
    marker = args.data_dir / f"{experiment}.populated"
    if not marker.exists() and args.data_dir.exists() and not any(args.data_dir.glob("*.populated")):
        shutil.rmtree(args.data_dir)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    setup_django()
    import httpx

    from experiments.mlflow.sync import sync_mapping
    from experiments.models import Experiment, MlflowMapping
    from learninghub.kernel.models import Team
    from tests.mlflow.conftest import MlflowDriver

    process, uri = start_server(args.data_dir)
    try:
        if not marker.exists():
            started = time.perf_counter()
            driver = MlflowDriver(uri)
            driver._call("create_runs", experiment=experiment, count=args.runs, start_time=1_767_225_600_000,
                         store_uri=f"sqlite:///{args.data_dir / 'mlflow.db'}")
            driver.close()
            marker.touch()
            print(f"populated {args.runs:,} runs in {time.perf_counter() - started:.0f} s (kept for next time)")

        class Counting(httpx.HTTPTransport):
            requests = 0

            def handle_request(self, request):
                Counting.requests += 1
                return super().handle_request(request)

        team = Team.objects.create(slug="bench", name="Bench")
        mapping = MlflowMapping.objects.create(team=team, tracking_uri=uri, experiment_name=experiment)
        started = time.perf_counter()
        first = sync_mapping(mapping, detect_repeats=False, transport=Counting(), page_size=args.page_size)
        elapsed = time.perf_counter() - started
        assert first.created == args.runs == Experiment.objects.count(), first.summary()
        print(f"first import:   {args.runs:,} runs in {elapsed:.1f} s = {args.runs / elapsed:,.0f} runs/s "
              f"({Counting.requests:,} MLflow requests; {first.summary()})")
        Counting.requests = 0
        started = time.perf_counter()
        again = sync_mapping(mapping, detect_repeats=False, transport=Counting(), page_size=args.page_size)
        elapsed = time.perf_counter() - started
        assert again.created == again.updated == 0, again.summary()
        print(f"re-sync, nothing changed: {elapsed * 1000:.0f} ms, {Counting.requests} MLflow requests "
              f"({again.summary()})")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
