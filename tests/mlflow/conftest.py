"""A real MLflow tracking server for the import tests, started once per test session from the
test-only virtualenv ``.venv-mlflow`` (``make .venv-mlflow/.installed``; mlflow's own pins clash
with ours, so it is not installed into .venv), and the real ``mlflow`` client to populate it
(``mlflow_driver.py``, also run from that virtualenv)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_VENV = Path(os.environ.get("MLFLOW_VENV", ROOT / ".venv-mlflow"))
MLFLOW_BIN, MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "mlflow", MLFLOW_VENV / "bin" / "python"
DRIVER = Path(__file__).with_name("mlflow_driver.py")
STARTUP_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowDriver:
    """The real mlflow client in its own process: ``create_run(...)`` / ``update_run(...)``."""

    def __init__(self, tracking_uri: str):
        self.process = subprocess.Popen([str(MLFLOW_PYTHON), str(DRIVER), tracking_uri], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self.process.stdout.readline()
        if '"ready"' not in ready:
            raise RuntimeError(f"The mlflow driver did not start: {ready!r}")

    def _call(self, op: str, **kwargs):
        self.process.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        answer = json.loads(self.process.stdout.readline())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["result"]

    def create_run(self, experiment: str, name: str, **kwargs) -> str:
        return self._call("create_run", experiment=experiment, name=name, **kwargs)

    def update_run(self, run_id: str, **kwargs) -> str:
        return self._call("update_run", run_id=run_id, **kwargs)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """The tracking URI of a real ``mlflow server`` on 127.0.0.1 (SQLite store, served artifacts)."""
    if not MLFLOW_BIN.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{MLFLOW_BIN} is missing: CI must run `make .venv-mlflow/.installed` first")
        pytest.skip(f"MLflow test virtualenv not installed ({MLFLOW_BIN}): run `make .venv-mlflow/.installed`")
    base = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    log = (base / "server.log").open("w")
    process = subprocess.Popen(
        [str(MLFLOW_BIN), "server", "--backend-store-uri", f"sqlite:///{base / 'mlflow.db'}",
         "--artifacts-destination", str(base / "artifacts"), "--serve-artifacts", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=base, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow server exited: {(base / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after {STARTUP_SECONDS} s")
            time.sleep(0.5)
        yield uri
    finally:
        # The server's own group (start_new_session): its uvicorn worker goes with it.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def mlflow_client(mlflow_server):
    driver = MlflowDriver(mlflow_server)
    yield driver
    driver.close()


@pytest.fixture
def mlflow_experiment(request) -> str:
    """A fresh MLflow experiment name per test (the server is shared by the session)."""
    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:6]}"
