"""Import an MLflow experiment's runs into a team's registry, idempotently and resumably.

Each run becomes the team's experiment with ``external_id`` = the run id (upserted through
``experiments.services``, so nothing is ever duplicated), in its own transaction: a run is
imported whole or not at all. Runs are read oldest start first; the mapping's cursor (the start
time before which every run is imported and finished) moves only after a whole page has been
handled, so a sync interrupted by an error resumes where it stopped, and a sync with nothing new
reads one short page. A run that changed in MLflow updates its experiment, unless a person
edited the experiment here since the last sync: then it is reported and left alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from experiments import services
from experiments.client import classify_failure
from experiments.mlflow.rest import PAGE_SIZE, MlflowError, MlflowRest
from experiments.mlflow.services import check_tracking_server
from experiments.models import Experiment, FailureKind, MlflowMapping, MlflowRun, Outcome
from learninghub.kernel.choices import FailureMode
from learninghub.kernel.models import Team

logger = logging.getLogger(__name__)

ERROR_TRACE_ARTIFACT = "error_trace.txt"
TERMINAL_STATUSES = {"FINISHED", "FAILED", "KILLED"}
TITLE_LENGTH = Experiment._meta.get_field("title").max_length
ERROR_TYPE_LENGTH = Experiment._meta.get_field("error_type").max_length
MAX_TEXT = 20_000  # a param is at most a few KB in MLflow; a hypothesis longer than this is cut
# The seed's ExperimentManager logs these tags; ``outcome`` may be LearningHub's or the seed's words.
OUTCOME_TAGS = {"success": Outcome.SUCCESS, "succeeded": Outcome.SUCCESS, "failure": Outcome.FAILURE,
                "failed": Outcome.FAILURE, "partial": Outcome.PARTIAL, "inconclusive": Outcome.INCONCLUSIVE}


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: list[str] = field(default_factory=list)  # run ids edited here: reported, not overwritten
    failed: list[str] = field(default_factory=list)  # "run id: why", each run left out whole
    warnings: list[str] = field(default_factory=list)  # imported, with something left out
    error: str = ""  # the sync stopped: the cursor stays before the page that failed

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.kept_local) + len(self.failed)

    def summary(self) -> str:
        text = (f"{self.created} new, {self.updated} changed, {self.unchanged} unchanged, "
                f"{len(self.kept_local)} edited here (not overwritten), {len(self.failed)} failed")
        return f"{text}; stopped: {self.error}" if self.error else text


@dataclass
class MappedRun:
    run_id: str
    parent_run_id: str
    data: dict[str, Any]
    warnings: list[str]

    @property
    def fingerprint(self) -> str:
        payload = {**self.data, "parent": self.parent_run_id}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _moment(ms: Any) -> dt.datetime | None:
    if ms in (None, "", 0, "0"):
        return None
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC)


def _pairs(items: list[dict] | None) -> dict[str, str]:
    return {item["key"]: item.get("value", "") for item in items or [] if "key" in item}


def _text(value: str, name: str, run_id: str, warnings: list[str], limit: int = MAX_TEXT) -> str:
    if len(value) > limit:
        warnings.append(f"{run_id}: {name} is {len(value)} characters; kept the first {limit}.")
        return value[:limit]
    return value


def map_run(run: dict[str, Any], *, fetch_trace: Callable[[str], str | None]) -> MappedRun:
    """What an MLflow run (REST JSON) says about the experiment: the fields for the services.

    ``fetch_trace(run_id)`` returns the ``error_trace.txt`` artifact, or None when it is missing;
    it is only asked for failed runs."""
    info, data = run.get("info") or {}, run.get("data") or {}
    run_id = info.get("run_id") or info.get("run_uuid")
    if not run_id:
        raise ValueError("a run without a run_id")
    params, tags = _pairs(data.get("params")), _pairs(data.get("tags"))
    warnings: list[str] = []
    name = info.get("run_name") or tags.get("mlflow.runName") or run_id
    if len(name) > TITLE_LENGTH:
        warnings.append(f"{run_id}: the run name is longer than {TITLE_LENGTH} characters; cut.")
        name = name[: TITLE_LENGTH - 1] + "…"
    hypothesis = params.get("hypothesis") or tags.get("hypothesis") or tags.get("mlflow.note.content") or ""
    hypothesis = _text(hypothesis, "hypothesis", run_id, warnings) or f"(No hypothesis logged for MLflow run {name}.)"
    approach = _text(params.get("approach") or tags.get("approach") or "", "approach", run_id, warnings)

    metrics: dict[str, float] = {}
    for metric in data.get("metrics") or []:
        key, value = metric.get("key", ""), metric.get("value")
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                value = None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            warnings.append(f"{run_id}: metric {key!r} is {metric.get('value')!r}, not a finite number; left out.")
        elif not key.strip() or len(key) > Experiment.MAX_METRIC_NAME_LENGTH:
            warnings.append(f"{run_id}: metric name {key[:40]!r}… is longer than "
                            f"{Experiment.MAX_METRIC_NAME_LENGTH} characters; left out.")
        else:
            metrics[key] = value

    status = info.get("status", "")
    started_at = _moment(info.get("start_time")) or timezone.now()
    ended_at = _moment(info.get("end_time")) if status in TERMINAL_STATUSES else None
    if ended_at is not None and ended_at < started_at:
        ended_at = started_at
    fields: dict[str, Any] = {
        "title": name, "hypothesis": hypothesis, "approach": approach, "metrics": metrics,
        "started_at": started_at, "ended_at": ended_at,
        "failure_kind": "", "failure_mode": "", "error_type": "", "error_message": "", "error_trace": "",
        "time_to_failure": None,
    }
    tagged = OUTCOME_TAGS.get(tags.get("outcome", "").strip().lower())
    if status not in TERMINAL_STATUSES:
        fields["outcome"] = Outcome.IN_PROGRESS
    elif status == "FAILED":
        fields["outcome"] = Outcome.FAILURE
    elif status == "KILLED":
        fields["outcome"] = tagged or Outcome.INCONCLUSIVE
    else:
        fields["outcome"] = tagged or Outcome.SUCCESS

    if fields["outcome"] == Outcome.FAILURE:
        trace = fetch_trace(run_id) if status == "FAILED" or tags.get("error_type") else None
        if trace is None and status == "FAILED":
            warnings.append(f"{run_id}: failed without an {ERROR_TRACE_ARTIFACT} artifact; imported without a trace.")
        error_type = tags.get("error_type", "")[:ERROR_TYPE_LENGTH]
        message = _text(tags.get("error_message") or tags.get("error") or "", "error_message", run_id, warnings)
        trace = _text(trace or "", ERROR_TRACE_ARTIFACT, run_id, warnings, limit=200_000)
        kind = tags.get("failure_kind", "")
        mode = tags.get("failure_mode", "")
        if mode not in FailureMode.values:
            mode = classify_failure(error_type, message, trace).failure_mode if (error_type or trace) else ""
        fields.update(
            failure_kind=kind if kind in FailureKind.values else (FailureKind.SYSTEM if status == "FAILED" else ""),
            failure_mode=mode, error_type=error_type, error_message=message, error_trace=trace,
            time_to_failure=(ended_at - started_at) if ended_at else None,
        )
    return MappedRun(run_id=run_id, parent_run_id=tags.get("mlflow.parentRunId", ""), data=fields,
                     warnings=warnings)


class MlflowImporter:
    """Imports one MLflow experiment into one team (a mapping, or a one-off command)."""

    def __init__(self, *, team: Team, tracking_uri: str, experiment_name: str, mapping: MlflowMapping | None = None,
                 detect_repeats: bool = True, transport=None, page_size: int = PAGE_SIZE,
                 progress: Callable[[int], None] | None = None):
        self.team, self.mapping = team, mapping
        self.tracking_uri, self.experiment_name = tracking_uri, experiment_name
        self.detect_repeats = detect_repeats
        self.transport, self.page_size = transport, page_size
        self.progress = progress or (lambda count: None)

    def run(self, *, since: dt.datetime | None = None) -> SyncResult:
        """Import the runs that started from ``since`` on (default: the mapping's cursor, or all)."""
        result = SyncResult()
        if since is not None:
            since_ms: int | None = int(since.timestamp() * 1000)
        else:
            since_ms = self.mapping.cursor_start_time if self.mapping else None
        pending_parents: list[tuple[int, str]] = []
        try:
            with MlflowRest(self.tracking_uri, transport=self.transport) as rest:
                experiment_id = rest.experiment_id(self.experiment_name)
                unfinished_before: int | None = None  # the first run still running: the cursor stops there
                for page in rest.pages(experiment_id, since_ms=since_ms, page_size=self.page_size):
                    for run in page.runs:
                        self._import_one(rest, run, result, pending_parents)
                        info = run.get("info") or {}
                        if unfinished_before is None and info.get("status") not in TERMINAL_STATUSES:
                            unfinished_before = int(info.get("start_time") or 0)
                    self.progress(len(page.runs))
                    if page.runs:
                        last = int((page.runs[-1].get("info") or {}).get("start_time") or 0)
                        self._advance(unfinished_before if unfinished_before is not None else last)
        except MlflowError as exc:
            result.error = str(exc)
        self._link_parents(pending_parents, result)
        self._record(result)
        return result

    def _advance(self, start_ms: int) -> None:
        # ``>=`` in the search: runs starting at the cursor itself are seen again (as unchanged).
        if self.mapping is not None and (self.mapping.cursor_start_time or 0) < start_ms:
            self.mapping.cursor_start_time = start_ms
            MlflowMapping.objects.filter(pk=self.mapping.pk).update(cursor_start_time=start_ms)

    def _record(self, result: SyncResult) -> None:
        if self.mapping is not None:
            self.mapping.last_synced_at = timezone.now()
            self.mapping.last_result = result.summary()
            MlflowMapping.objects.filter(pk=self.mapping.pk).update(
                last_synced_at=self.mapping.last_synced_at, last_result=self.mapping.last_result)

    def _import_one(self, rest: MlflowRest, run: dict, result: SyncResult, pending: list[tuple[int, str]]) -> None:
        run_id = str((run.get("info") or {}).get("run_id") or "?")
        try:
            mapped = map_run(run, fetch_trace=lambda rid: self._trace(rest, rid))
        except MlflowError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            result.failed.append(f"{run_id}: cannot be read ({exc}).")
            return
        try:
            with transaction.atomic():
                status, experiment = self._upsert(mapped)
        except ValidationError as exc:
            messages = "; ".join(f"{key}: {' '.join(value)}" for key, value in exc.message_dict.items()) \
                if hasattr(exc, "error_dict") else " ".join(exc.messages)
            result.failed.append(f"{mapped.run_id}: {messages}")
            return
        result.warnings.extend(mapped.warnings)
        if status == "kept_local":
            result.kept_local.append(mapped.run_id)
        else:
            setattr(result, status, getattr(result, status) + 1)
            if mapped.parent_run_id and status != "unchanged":
                pending.append((experiment.pk, mapped.parent_run_id))

    def _trace(self, rest: MlflowRest, run_id: str) -> str | None:
        # One request: the download answers 404 for a missing artifact (no listing first).
        return rest.artifact_text(run_id, ERROR_TRACE_ARTIFACT)

    def _upsert(self, mapped: MappedRun) -> tuple[str, Experiment]:
        link = (MlflowRun.objects.select_related("experiment")
                .filter(experiment__team=self.team, run_id=mapped.run_id).first())
        if link is None:
            existing = Experiment.objects.filter(team=self.team, external_id=mapped.run_id).first()
            if existing is not None:
                return "kept_local", existing  # recorded here first (e.g. by the client): not ours to overwrite
        elif link.fingerprint == mapped.fingerprint:
            return "unchanged", link.experiment
        elif link.experiment.version != link.synced_version:
            return "kept_local", link.experiment
        data = dict(mapped.data)
        parent = self._parent(mapped.parent_run_id)
        if parent is not None:
            data["builds_on"] = parent
        experiment, created = services.experiment_upsert(team=self.team, external_id=mapped.run_id, user=None,
                                                         data=data, detect_repeats=self.detect_repeats)
        MlflowRun.objects.update_or_create(
            experiment=experiment,
            defaults={"run_id": mapped.run_id, "mapping": self.mapping, "fingerprint": mapped.fingerprint,
                      "synced_version": experiment.version, "synced_at": timezone.now()})
        return ("created" if created else "updated"), experiment

    def _parent(self, parent_run_id: str) -> Experiment | None:
        if not parent_run_id:
            return None
        return Experiment.objects.filter(team=self.team, external_id=parent_run_id).first()

    def _link_parents(self, pending: list[tuple[int, str]], result: SyncResult) -> None:
        """Second pass: children imported before their parent now point at it."""
        for experiment_id, parent_run_id in pending:
            experiment = Experiment.objects.select_related("mlflow_run").get(pk=experiment_id)
            parent = self._parent(parent_run_id)
            if parent is None or experiment.builds_on_id == parent.pk:
                continue
            link = getattr(experiment, "mlflow_run", None)
            if link is not None and experiment.version != link.synced_version:
                continue
            try:
                with transaction.atomic():
                    experiment = services.experiment_update(experiment=experiment, user=None,
                                                            data={"builds_on": parent}, detect_repeats=False)
                    if link is not None:
                        MlflowRun.objects.filter(pk=link.pk).update(synced_version=experiment.version)
            except ValidationError as exc:
                result.warnings.append(f"{parent_run_id}: could not be linked as a parent ({' '.join(exc.messages)}).")


def sync_mapping(mapping: MlflowMapping, *, since: dt.datetime | None = None, detect_repeats: bool | None = None,
                 transport=None, progress: Callable[[int], None] | None = None,
                 page_size: int = PAGE_SIZE) -> SyncResult:
    """Sync one mapping from its cursor (or from ``since``). A mapping whose server the app may no
    longer call (see :func:`check_tracking_server`) is not contacted: the refusal is its result."""
    importer = MlflowImporter(
        team=mapping.team, tracking_uri=mapping.tracking_uri, experiment_name=mapping.experiment_name,
        mapping=mapping, detect_repeats=mapping.detect_repeats if detect_repeats is None else detect_repeats,
        transport=transport, progress=progress, page_size=page_size)
    try:
        check_tracking_server(mapping.tracking_uri)
    except ValidationError as exc:
        result = SyncResult(error=" ".join(exc.messages))
        importer._record(result)
        logger.warning("MLflow sync of %s refused: %s", mapping, result.error)
        return result
    result = importer.run(since=since)
    if result.error:
        logger.warning("MLflow sync of %s stopped: %s", mapping, result.error)
    return result
