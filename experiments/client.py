"""Record training runs in LearningHub from any script, the way an experiment manager would.

Standard library and ``httpx`` only; importing this module does not need Django::

    from experiments.client import ExperimentRun

    with ExperimentRun(base_url="http://hub:8000", token="…", team="recsys",
                       external_id="ranker-v5-2026-11-23", title="Ranker v5",
                       hypothesis="Session features lift CTR") as run:
        metrics = train()
        run.log_metrics(ctr=metrics["ctr"], latency_ms=metrics["p95_ms"])

The run is recorded as in progress on entry; on a normal exit its metrics and outcome
(``success`` unless :meth:`ExperimentRun.conclude` said otherwise) are sent; on an exception
its type, message and traceback are sent with outcome ``failure`` and failure kind ``system``,
and the exception is re-raised. Every call is an upsert keyed by ``team`` + ``external_id``,
so retrying a call (or re-running the whole script) never creates a second record. Transient
HTTP failures (connection errors, timeouts, 502/503/504) are retried with exponential backoff.
``LEARNINGHUB_URL`` and ``LEARNINGHUB_TOKEN`` are used when ``base_url`` / ``token`` are omitted.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import time
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import httpx

logger = logging.getLogger("learninghub.client")

RETRY_STATUSES = frozenset({502, 503, 504})
EXPERIMENTS_PATH = "/api/v1/experiments/"


class LearningHubError(Exception):
    """The server refused a request (4xx/5xx after retries) or could not be reached."""

    def __init__(self, message: str, *, status_code: int | None = None, payload: Any = None):
        super().__init__(message)
        self.status_code = status_code
        self.payload = payload


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class LearningHubClient:
    """A thin JSON client for the LearningHub API with retries for transient failures."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        base_url = base_url or os.environ.get("LEARNINGHUB_URL")
        token = token or os.environ.get("LEARNINGHUB_TOKEN")
        if not base_url or not token:
            raise ValueError("Give base_url and token (or set LEARNINGHUB_URL and LEARNINGHUB_TOKEN).")
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
            headers={"Authorization": f"Token {token}", "Accept": "application/json",
                     "User-Agent": "learninghub-client/1"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LearningHubClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def request(self, method: str, path: str, *, json: Any = None, accept: str | None = None) -> httpx.Response:
        """Send a request, retrying connection errors, timeouts and 502/503/504 with exponential
        backoff (``backoff``·2ⁿ seconds, at most ``max_backoff``), up to ``max_retries`` times."""
        headers = {"Accept": accept} if accept else None
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.request(method, path, json=json, headers=headers)
            except httpx.TransportError as exc:
                if attempt == self.max_retries:
                    raise LearningHubError(f"LearningHub unreachable: {exc}") from exc
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in RETRY_STATUSES:
                    if response.is_error:
                        raise _error_from(response)
                    return response
                if attempt == self.max_retries:
                    raise _error_from(response)
                reason = f"HTTP {response.status_code}"
            delay = min(self.backoff * 2**attempt, self.max_backoff)
            logger.warning("LearningHub %s %s failed (%s); retry %d/%d in %.1f s", method, path, reason,
                           attempt + 1, self.max_retries, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def upsert_experiment(self, payload: Mapping[str, Any]) -> dict:
        """Create the experiment, or update the team's experiment with the same ``external_id``."""
        return self.request("POST", EXPERIMENTS_PATH, json=dict(payload)).json()

    def get_experiment(self, experiment_id: int) -> dict:
        return self.request("GET", f"{EXPERIMENTS_PATH}{experiment_id}/").json()

    def experiment_markdown(self, experiment_id: int) -> str:
        return self.request("GET", f"{EXPERIMENTS_PATH}{experiment_id}/markdown/", accept="text/markdown").text

    def run(self, **kwargs) -> ExperimentRun:
        """An :class:`ExperimentRun` that uses this client."""
        return ExperimentRun(client=self, **kwargs)


def _error_from(response: httpx.Response) -> LearningHubError:
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    return LearningHubError(f"LearningHub answered {response.status_code}: {payload}",
                            status_code=response.status_code, payload=payload)


class ExperimentRun:
    """One run of a training script, recorded as a LearningHub experiment.

    Use it as a context manager (``with ExperimentRun(...) as run:``) or as a decorator
    (``@ExperimentRun(...)``; a decorated function that returns a mapping of numbers has them
    recorded as metrics). Extra keyword arguments (``approach``, ``builds_on``, ``is_novel``,
    ``failure_mode``…) are sent as experiment fields.
    """

    def __init__(
        self,
        *,
        team: str,
        external_id: str,
        title: str,
        hypothesis: str,
        client: LearningHubClient | None = None,
        base_url: str | None = None,
        token: str | None = None,
        lessons: list[str] | None = None,
        next_steps: list[str] | None = None,
        **fields: Any,
    ):
        if not external_id:
            raise ValueError("external_id is required: it is what makes retries safe.")
        self._given_client = client
        self._base_url, self._token = base_url, token
        self.client: LearningHubClient | None = client
        self.team = team
        self.external_id = external_id
        self.failure_mode = fields.pop("failure_mode", "")
        self.fields = {"title": title, "hypothesis": hypothesis, **fields}
        self.metrics: dict[str, float] = {}
        self.lessons = list(lessons or [])
        self.next_steps = list(next_steps or [])
        self.outcome = "success"
        self.failure_kind = ""
        self.experiment: dict | None = None

    @property
    def id(self) -> int | None:
        return self.experiment["id"] if self.experiment else None

    def log_metric(self, name: str, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"Metric {name!r} must be a number, not {value!r}")
        self.metrics[name] = value

    def log_metrics(self, metrics: Mapping[str, float] | None = None, /, **more: float) -> None:
        for name, value in {**(metrics or {}), **more}.items():
            self.log_metric(name, value)

    def add_lesson(self, text: str) -> None:
        self.lessons.append(text)

    def add_next_step(self, text: str) -> None:
        self.next_steps.append(text)

    def conclude(self, outcome: str = "success", *, failure_kind: str = "", failure_mode: str = "") -> None:
        """The verdict sent when the block ends normally (default: success). A run that proved
        the idea wrong is ``conclude("failure", failure_kind="productive")``."""
        self.outcome, self.failure_kind, self.failure_mode = outcome, failure_kind, failure_mode

    def _send(self, **payload: Any) -> dict:
        if self.client is None:
            self.client = LearningHubClient(self._base_url, self._token)
        body = {"team": self.team, "external_id": self.external_id, **self.fields, **payload}
        self.experiment = self.client.upsert_experiment(body)
        return self.experiment

    def start(self) -> dict:
        """Record the run as in progress (and clear what a previous attempt reported)."""
        return self._send(outcome="in_progress", started_at=_now(), ended_at=None, failure_kind="",
                          failure_mode="", error_type="", error_message="", error_trace="")

    def finish(self) -> dict:
        is_failure = self.outcome == "failure"
        payload: dict[str, Any] = {
            "outcome": self.outcome, "ended_at": _now(), "metrics": self.metrics,
            "failure_kind": self.failure_kind if is_failure else "",
            "failure_mode": self.failure_mode if self.outcome != "success" else "",
        }
        if self.outcome == "success":
            # A retried run that crashed before may have been linked as a repeat failure.
            payload["repeat_of"] = None
        if self.lessons:
            payload["lessons"] = self.lessons
        if self.next_steps:
            payload["next_steps"] = self.next_steps
        return self._send(**payload)

    def fail(self, exc: BaseException, tb: TracebackType | None = None) -> dict:
        trace = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
        error_type = type(exc).__qualname__
        if type(exc).__module__ not in {"builtins", "__main__"}:
            error_type = f"{type(exc).__module__}.{error_type}"
        payload: dict[str, Any] = {
            "outcome": "failure", "failure_kind": "system", "failure_mode": self.failure_mode,
            "ended_at": _now(), "metrics": self.metrics, "error_type": error_type[:200],
            "error_message": str(exc), "error_trace": trace,
        }
        if self.lessons:
            payload["lessons"] = self.lessons
        if self.next_steps:
            payload["next_steps"] = self.next_steps
        return self._send(**payload)

    def __enter__(self) -> ExperimentRun:
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc is None:
                self.finish()
            else:
                try:
                    self.fail(exc, tb)
                except LearningHubError:
                    # Never hide the training script's own exception behind a reporting error.
                    logger.exception("Could not record the failure of run %s", self.external_id)
        finally:
            if self._given_client is None and self.client is not None:
                self.client.close()
                self.client = None
        return False  # re-raise the script's exception, if any

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                result = func(*args, **kwargs)
                if isinstance(result, Mapping) and all(
                    isinstance(value, int | float) and not isinstance(value, bool) for value in result.values()
                ):
                    self.log_metrics(result)
                return result

        return wrapper
