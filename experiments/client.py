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

The seed's failure-management API is here too: :class:`ExperimentManager` runs a training
function and, when it fails, returns a ``failure_analysis`` (error type, likely cause, config
issues, and recommendations from the team's lessons of similar earlier failures, through the
search API); :class:`FailureDetector` watches a metrics stream and stops a doomed run early::

    manager = ExperimentManager("ranker", team="recsys")
    result = manager.run_experiment("v5-bs512", "Session features lift CTR", {"batch_size": 512}, train)
    if result["status"] == "failed":
        print(result["learnings"]["likely_cause"], result["learnings"]["recommendations"])
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

logger = logging.getLogger("learninghub.client")

RETRY_STATUSES = frozenset({502, 503, 504})
EXPERIMENTS_PATH = "/api/v1/experiments/"
SEARCH_PATH = "/api/v1/search/"


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

    def search_lessons(self, query: str, *, team: str | None = None, limit: int = 5) -> list[dict]:
        """The lessons (of ``team``, or any team you may see) that best match ``query``."""
        params = {"q": query[:200], "kind": "lesson", "page_size": limit}
        if team:
            params["team"] = team
        response = self.request("GET", f"{SEARCH_PATH}?{httpx.QueryParams(params)}")
        return list(response.json().get("results", []))[:limit]

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
        self._started = time.monotonic()
        return self._send(outcome="in_progress", started_at=_now(), ended_at=None, failure_kind="",
                          failure_mode="", error_type="", error_message="", error_trace="", time_to_failure=None)

    def _elapsed(self) -> str | None:
        """Seconds since :meth:`start`, as the API's duration text (the time to a failure verdict)."""
        started = getattr(self, "_started", None)
        return f"{max(time.monotonic() - started, 0):.3f}" if started is not None else None

    def finish(self) -> dict:
        is_failure = self.outcome == "failure"
        payload: dict[str, Any] = {
            "outcome": self.outcome, "ended_at": _now(), "metrics": self.metrics,
            "failure_kind": self.failure_kind if is_failure else "",
            "failure_mode": self.failure_mode if self.outcome != "success" else "",
            "time_to_failure": self._elapsed() if is_failure else None,
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
            "error_message": str(exc), "error_trace": trace, "time_to_failure": self._elapsed(),
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


# --- Failure management (the seed's ExperimentManager and FailureDetector) -----------------


@dataclass(frozen=True)
class FailureRule:
    """A common failure: how to recognise it, what it means, and the config values it implicates."""

    pattern: re.Pattern
    cause: str
    failure_mode: str  # a LearningHub failure mode: infrastructure, data_quality, overfitting, other
    config_keys: tuple[str, ...] = ()
    hint: str = ""
    search: str = ""  # the words that find the team's lessons about it

    def matches(self, text: str) -> bool:
        return bool(self.pattern.search(text))


def _rule(pattern: str, cause: str, mode: str, keys: tuple[str, ...] = (), hint: str = "", search: str = ""):
    return FailureRule(re.compile(pattern, re.IGNORECASE), cause, mode, keys, hint, search)


# First match wins: the specific (GPU memory) before the general (memory).
FAILURE_RULES: tuple[FailureRule, ...] = (
    _rule(r"cuda.{0,20}out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|\bOOM\b.{0,20}gpu",
          "GPU out of memory", "infrastructure",
          ("batch_size", "micro_batch_size", "max_seq_len", "seq_len", "image_size", "hidden_size"),
          "lower it (or use gradient accumulation / mixed precision)", "GPU out of memory batch size"),
    _rule(r"\bMemoryError\b|cannot allocate memory|out of memory|oom.?kill", "Host out of memory",
          "infrastructure", ("batch_size", "num_workers", "prefetch_factor", "cache_size"),
          "lower it or stream the data", "out of memory batch size workers"),
    _rule(r"loss.{0,40}\b(nan|inf)\b|\b(nan|inf)\b.{0,40}loss|diverg|non-finite loss",
          "Loss became NaN/Inf: training diverged", "other",
          ("learning_rate", "lr", "warmup_steps", "grad_clip", "max_grad_norm", "fp16"),
          "lower the learning rate, add warm-up or gradient clipping", "NaN loss diverged learning rate"),
    _rule(r"shape mismatch|size mismatch|shapes? .{0,40} (?:and|vs) .{0,40}|mat1 and mat2|dimension mismatch"
          r"|must match the size|incompatible shapes",
          "Tensor shape mismatch", "other", ("input_dim", "hidden_size", "num_classes", "seq_len", "image_size"),
          "check it against the data and the model", "shape mismatch dimensions"),
    _rule(r"FileNotFoundError|No such file or directory|does not exist: .*(/|\\)", "A file is missing",
          "infrastructure", ("data_path", "train_path", "checkpoint", "checkpoint_path", "output_dir"),
          "check the path is mounted and spelled right", "file not found path mount"),
    _rule(r"KeyError|column .{0,40}(not found|missing|does not exist)|missing column|not in index",
          "A column (or key) is missing from the data", "data_quality",
          ("features", "label_column", "target", "columns"), "check the data's schema", "missing column schema"),
    _rule(r"timed? ?out|TimeoutError|deadline exceeded|ConnectionError|connection (refused|reset|aborted)"
          r"|unreachable|NCCL .{0,40}(timeout|error)", "Timeout or connection error", "infrastructure",
          ("timeout", "num_workers", "world_size"), "retry, or raise the timeout", "timeout connection error"),
    _rule(r"ValidationError|validation (failed|error)|invalid (value|data|label)|schema|contains? nan"
          r"|missing values|unexpected (value|label)", "The data failed validation", "data_quality",
          ("data_path", "label_column", "features"), "check the data before training", "data validation"),
)


@dataclass(frozen=True)
class Classification:
    cause: str
    failure_mode: str
    rule: FailureRule | None = None


def classify_failure(error_type: str, message: str = "", trace: str = "") -> Classification:
    """The likely cause and LearningHub failure mode of an error, by the rules above."""
    text = "\n".join(part for part in (error_type, message, trace[-5000:]) if part)
    for rule in FAILURE_RULES:
        if rule.matches(text):
            return Classification(rule.cause, rule.failure_mode, rule)
    return Classification(f"Unrecognised error ({error_type or 'unknown'})", "other")


def _error_type(exc: BaseException) -> str:
    name = type(exc).__qualname__
    return name if type(exc).__module__ in {"builtins", "__main__"} else f"{type(exc).__module__}.{name}"


def analyze_failure(exc: BaseException, config: Mapping[str, Any] | None = None, *,
                    client: LearningHubClient | None = None, team: str | None = None) -> dict[str, Any]:
    """The seed's ``failure_analysis``: error type, likely cause, config issues and
    recommendations (the team's lessons of similar earlier failures, when a client is given)."""
    config = dict(config or {})
    message = str(exc)
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    found = classify_failure(_error_type(exc), message, trace)
    config_issues = []
    if found.rule is not None:
        for key in found.rule.config_keys:
            if key in config:
                config_issues.append({"param": key, "value": config[key],
                                      "issue": f"{key}={config[key]!r} may cause this: {found.rule.hint}"})
    recommendations: list[dict[str, Any]] = []
    if client is not None:
        query = found.rule.search if found.rule else " ".join(re.findall(r"[A-Za-z]{3,}", message)[:8])
        try:
            hits = client.search_lessons(query, team=team) if query else []
        except LearningHubError as err:
            logger.warning("Could not look up lessons for %s: %s", found.cause, err)
            hits = []
        recommendations = [{"lesson": hit.get("title", ""), "team": hit.get("team", ""), "url": hit.get("url", ""),
                            "from": hit.get("title", "")} for hit in hits]
    return {"error_type": _error_type(exc), "error_message": message, "likely_cause": found.cause,
            "failure_mode": found.failure_mode, "config_issues": config_issues,
            "recommendations": recommendations}


@dataclass
class TrainingVerdict:
    """What :meth:`FailureDetector.monitor_training` concluded, and at which step."""

    status: str  # divergence, no_learning, overfitting, completed
    step: int | None = None
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status != "completed"

    def __eq__(self, other: object) -> bool:  # ``verdict == "divergence"`` reads like the seed's strings
        if isinstance(other, str):
            return self.status == other
        return NotImplemented if not isinstance(other, TrainingVerdict) else (
            (self.status, self.step, self.reason) == (other.status, other.step, other.reason))

    __hash__ = None  # type: ignore[assignment]


# A verdict's LearningHub failure mode (the registry has no "divergence": it is "other").
VERDICT_FAILURE_MODES = {"divergence": "other", "no_learning": "other", "overfitting": "overfitting"}


class FailureDetector:
    """Stops doomed training runs early: divergence (the loss is NaN/Inf, or exploded), no
    learning (the loss did not improve for ``patience`` steps), overfitting (the validation loss
    rose for ``overfit_patience`` steps while the training loss fell).

    Each item of the stream is a mapping with ``loss`` (and optionally ``val_loss``, ``step``)."""

    DEFAULTS = {"loss_key": "loss", "val_key": "val_loss", "explode_factor": 10.0, "patience": 10,
                "min_delta": 1e-4, "overfit_patience": 3, "warmup_steps": 0}

    def __init__(self, thresholds: Mapping[str, Any] | None = None):
        unknown = set(thresholds or {}) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"Unknown thresholds: {', '.join(sorted(unknown))} (known: {', '.join(self.DEFAULTS)})")
        self.thresholds = {**self.DEFAULTS, **(thresholds or {})}

    def monitor_training(self, metrics_stream: Iterable[Mapping[str, float]]) -> TrainingVerdict:
        """Read the stream until a verdict; a failure stops reading (and closes a generator,
        which stops the training that produces it)."""
        t = self.thresholds
        history: list[dict[str, float]] = []
        first_loss = best_loss = None
        since_best = rising_val = 0
        previous: Mapping[str, float] | None = None
        iterator: Iterator = iter(metrics_stream)
        try:
            for index, metrics in enumerate(iterator):
                metrics = dict(metrics)
                history.append(metrics)
                step = int(metrics.get("step", index))
                loss = metrics.get(t["loss_key"])
                if loss is not None and (not isinstance(loss, int | float) or not math.isfinite(loss)):
                    return TrainingVerdict("divergence", step, f"{t['loss_key']} is {loss} at step {step}",
                                           metrics, history)
                if loss is None:
                    previous = metrics
                    continue
                if first_loss is None:
                    first_loss = best_loss = loss
                elif first_loss > 0 and loss > first_loss * t["explode_factor"]:
                    return TrainingVerdict("divergence", step, f"{t['loss_key']} exploded to {loss:g} at step {step} "
                                           f"(started at {first_loss:g})", metrics, history)
                if loss < best_loss - t["min_delta"]:
                    best_loss, since_best = loss, 0
                elif index > 0:
                    since_best += 1
                if index >= t["warmup_steps"] and since_best >= t["patience"]:
                    return TrainingVerdict("no_learning", step, f"no improvement of {t['loss_key']} for "
                                           f"{since_best} steps (best {best_loss:g})", metrics, history)
                val = metrics.get(t["val_key"])
                if previous is not None and val is not None and previous.get(t["val_key"]) is not None:
                    prev_loss = previous.get(t["loss_key"])
                    if val > previous[t["val_key"]] and prev_loss is not None and loss < prev_loss:
                        rising_val += 1
                    else:
                        rising_val = 0
                    if rising_val >= t["overfit_patience"]:
                        return TrainingVerdict("overfitting", step, f"{t['val_key']} rose for {rising_val} steps "
                                               f"while {t['loss_key']} fell", metrics, history)
                previous = metrics
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        return TrainingVerdict("completed", int(history[-1].get("step", len(history) - 1)) if history else None,
                               "the stream ended", history[-1] if history else {}, history)


class ExperimentManager:
    """The seed's experiment manager, recording into LearningHub (and into MLflow when the
    ``mlflow`` package is importable and ``MLFLOW_TRACKING_URI`` is set, or ``mirror_to_mlflow``).

    ``run_experiment`` calls ``train_func(config)``. A mapping of numbers it returns is the run's
    metrics. An iterator of per-step metrics is watched by ``detector`` (a :class:`FailureDetector`,
    default thresholds unless given): a failure verdict stops the training and concludes the run
    as a failure with that failure mode at that step. An exception is recorded (error type,
    traceback, failure mode, time to failure) and analysed; it is not re-raised.
    """

    def __init__(self, project: str, *, team: str, base_url: str | None = None, token: str | None = None,
                 client: LearningHubClient | None = None, mirror_to_mlflow: bool | None = None):
        self.project, self.team = project, team
        self.client = client or LearningHubClient(base_url, token)
        if mirror_to_mlflow is None:
            mirror_to_mlflow = bool(os.environ.get("MLFLOW_TRACKING_URI"))
        self._mlflow = _import_mlflow() if mirror_to_mlflow else None

    def close(self) -> None:
        self.client.close()

    def run_experiment(self, name: str, hypothesis: str, config: Mapping[str, Any] | None,
                       train_func: Callable[[dict], Any], *, external_id: str | None = None, approach: str = "",
                       detector: FailureDetector | None = None, **fields: Any) -> dict[str, Any]:
        config = dict(config or {})
        if not approach and config:
            approach = "Config: " + ", ".join(f"{key}={value!r}" for key, value in config.items())
        run = ExperimentRun(client=self.client, team=self.team, external_id=external_id or f"{self.project}/{name}",
                            title=name, hypothesis=hypothesis, approach=approach, **fields)
        analysis: dict[str, Any] | None = None
        verdict: TrainingVerdict | None = None
        try:
            with run:
                try:
                    result = train_func(config)
                    if isinstance(result, Mapping):
                        run.log_metrics({k: v for k, v in result.items()
                                         if isinstance(v, int | float) and not isinstance(v, bool)
                                         and math.isfinite(v)})
                    elif isinstance(result, Iterable) and not isinstance(result, str | bytes):
                        verdict = (detector or FailureDetector()).monitor_training(result)
                        self._conclude_from(run, verdict)
                except Exception as exc:
                    analysis = analyze_failure(exc, config, client=self.client, team=self.team)
                    run.failure_mode = analysis["failure_mode"]
                    raise
        except Exception as exc:
            if analysis is None:  # the recording itself failed
                raise
            self._mirror(name, config, run, exc)
            return {"status": "failed", "error": f"{analysis['error_type']}: {exc}", "learnings": analysis,
                    "experiment_id": run.id}
        self._mirror(name, config, run, None)
        if verdict is not None and verdict.failed:
            return {"status": "failed", "error": verdict.reason, "failure_mode": verdict.status, "step": verdict.step,
                    "metrics": run.metrics, "experiment_id": run.id,
                    "learnings": {"error_type": "", "likely_cause": verdict.reason,
                                  "failure_mode": VERDICT_FAILURE_MODES[verdict.status], "config_issues": [],
                                  "recommendations": []}}
        return {"status": "success", "metrics": run.metrics, "experiment_id": run.id}

    @staticmethod
    def _conclude_from(run: ExperimentRun, verdict: TrainingVerdict) -> None:
        numbers = {k: v for k, v in verdict.metrics.items()
                   if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
        run.log_metrics(numbers)
        if verdict.failed:
            if verdict.step is not None:
                run.log_metric("stopped_at_step", verdict.step)
            run.fields["error_message"] = f"Stopped early by the failure detector ({verdict.status}): {verdict.reason}"
            run.conclude("failure", failure_mode=VERDICT_FAILURE_MODES[verdict.status])

    def _mirror(self, name: str, config: dict, run: ExperimentRun, exc: BaseException | None) -> None:
        """Log the run to MLflow too, as the seed did (never failing the caller)."""
        if self._mlflow is None:
            return
        mlflow = self._mlflow
        try:
            mlflow.set_experiment(self.project)
            with mlflow.start_run(run_name=name):
                mlflow.log_params({k: str(v)[:500] for k, v in config.items()})
                mlflow.log_param("hypothesis", run.fields.get("hypothesis", "")[:500])
                mlflow.log_metrics(run.metrics)
                mlflow.set_tag("outcome", "failure" if exc is not None or run.outcome == "failure" else "success")
                if exc is not None:
                    mlflow.set_tag("error_type", _error_type(exc))
                    mlflow.log_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                                    "error_trace.txt")
                    mlflow.end_run("FAILED")
        except Exception:
            logger.exception("Could not mirror run %s to MLflow", name)


def _import_mlflow():
    try:
        import mlflow
    except ImportError:
        return None
    return mlflow
