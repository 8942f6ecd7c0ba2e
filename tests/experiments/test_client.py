"""The tooling client against a live server: runs recorded in progress then concluded, crashes
recorded with their traceback and re-raised, retries that never duplicate."""

import httpx
import pytest

from experiments.client import (
    ExperimentManager,
    ExperimentRun,
    FailureDetector,
    LearningHubClient,
    LearningHubError,
    classify_failure,
)
from experiments.models import Experiment, Outcome
from tests.factories import issue_token
from tests.factories.experiments import ExperimentFactory, LessonFactory

pytestmark = pytest.mark.django_db(transaction=True)


class FlakyTransport(httpx.BaseTransport):
    """Real HTTP, except for a scripted list of failures injected before (or after) requests."""

    def __init__(self, failures: list[str]):
        self.failures = list(failures)
        self.real = httpx.HTTPTransport()
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        failure = self.failures.pop(0) if self.failures else None
        if failure == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if failure in {"502", "503", "504"}:
            return httpx.Response(int(failure), request=request, text="Bad gateway")
        response = self.real.handle_request(request)
        if failure == "lost":  # the server did the work, the answer never arrived
            response.read()
            raise httpx.ReadTimeout("timed out", request=request)
        return response

    def close(self) -> None:
        self.real.close()


@pytest.fixture
def hub(live_server, member, team):
    """Everything a script needs: the server URL, a token, and a no-op sleep that records delays."""
    _token, key = issue_token(member, name="training cluster")
    delays: list[float] = []

    def make_client(failures=(), **kwargs):
        return LearningHubClient(live_server.url, key, transport=FlakyTransport(list(failures)),
                                 sleep=delays.append, **kwargs)

    return {"url": live_server.url, "key": key, "client": make_client, "delays": delays}


def run_kwargs(**overrides):
    kwargs = {"team": "recsys", "external_id": "ranker-v5-run-1", "title": "Ranker v5",
              "hypothesis": "Session features lift CTR", "approach": "GRU over the last ten items"}
    kwargs.update(overrides)
    return kwargs


def test_a_successful_run_is_recorded_in_progress_then_concluded(hub):
    client = hub["client"]()
    with client.run(**run_kwargs()) as run:
        during = Experiment.objects.get(external_id="ranker-v5-run-1")
        assert during.outcome == Outcome.IN_PROGRESS and during.ended_at is None
        run.log_metrics(ctr=0.71, latency_ms=55)
        run.add_lesson("Session context helps short histories most")
        run.add_next_step("Run a 4-week holdout")
    experiment = Experiment.objects.get(external_id="ranker-v5-run-1")
    assert experiment.outcome == Outcome.SUCCESS and experiment.ended_at is not None
    assert experiment.metrics == {"ctr": 0.71, "latency_ms": 55}
    assert experiment.approach == "GRU over the last ten items"
    assert list(experiment.lessons.values_list("text", flat=True)) == ["Session context helps short histories most"]
    assert experiment.next_steps == ["Run a 4-week holdout"] and run.id == experiment.pk
    assert "## Experiment: Session features lift CTR" in client.experiment_markdown(run.id)


def train_that_crashes():
    raise ValueError("labels contain NaN")


def test_a_crash_is_recorded_with_its_traceback_and_re_raised(hub):
    with pytest.raises(ValueError, match="labels contain NaN"), ExperimentRun(
            base_url=hub["url"], token=hub["key"], **run_kwargs()) as run:
        run.log_metric("loss", 0.9)
        train_that_crashes()
    experiment = Experiment.objects.get(external_id="ranker-v5-run-1")
    assert experiment.outcome == Outcome.FAILURE and experiment.failure_kind == "system"
    assert experiment.error_type == "ValueError" and experiment.error_message == "labels contain NaN"
    assert "Traceback (most recent call last)" in experiment.error_trace
    assert "train_that_crashes" in experiment.error_trace
    assert experiment.metrics == {"loss": 0.9}


def test_a_crashing_script_retried_five_times_then_fixed_leaves_one_record(hub):
    for _attempt in range(5):
        with pytest.raises(RuntimeError), hub["client"]().run(**run_kwargs()):
            raise RuntimeError("CUDA out of memory")
    assert Experiment.objects.filter(external_id="ranker-v5-run-1").count() == 1
    crashed = Experiment.objects.get()
    assert crashed.outcome == Outcome.FAILURE
    with hub["client"]().run(**run_kwargs()) as run:
        run.log_metric("ctr", 0.7)
    experiment = Experiment.objects.get()
    assert experiment.pk == crashed.pk == run.id
    assert experiment.outcome == Outcome.SUCCESS and experiment.error_type == "" and experiment.failure_kind == ""


def test_transient_failures_are_retried_with_backoff_without_duplicates(hub):
    client = hub["client"](failures=["503", "connect", "lost", "502", "504"])
    with client.run(**run_kwargs()) as run:
        run.log_metric("ctr", 0.7)
    assert hub["delays"] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert Experiment.objects.count() == 1
    assert Experiment.objects.get().outcome == Outcome.SUCCESS


def test_giving_up_after_max_retries(hub):
    client = hub["client"](failures=["503"] * 10, max_retries=2)
    with pytest.raises(LearningHubError) as excinfo:
        client.upsert_experiment({"team": "recsys", "title": "t", "hypothesis": "h", "external_id": "x"})
    assert excinfo.value.status_code == 503 and hub["delays"] == [0.5, 1.0]
    assert not Experiment.objects.exists()


def test_validation_errors_are_not_retried(hub):
    client = hub["client"]()
    with pytest.raises(LearningHubError) as excinfo:
        client.upsert_experiment({"team": "no-such-team", "title": "t", "hypothesis": "h", "external_id": "x"})
    assert excinfo.value.status_code == 400 and "team" in excinfo.value.payload and hub["delays"] == []


def test_training_does_not_start_with_a_revoked_token(hub, member):
    member.api_tokens.get().revoke()
    trained = []
    with pytest.raises(LearningHubError) as excinfo, hub["client"]().run(**run_kwargs()):
        trained.append(True)
    assert excinfo.value.status_code == 401 and trained == [] and not Experiment.objects.exists()


def test_a_reporting_outage_never_hides_the_scripts_own_error(hub):
    client = hub["client"](failures=[None] + ["connect"] * 10, max_retries=1)
    with pytest.raises(KeyError), client.run(**run_kwargs()):
        raise KeyError("user_id")
    assert Experiment.objects.get().outcome == Outcome.IN_PROGRESS


def test_decorator_records_returned_metrics(hub):
    @ExperimentRun(client=hub["client"](), **run_kwargs(external_id="decorated"))
    def train(epochs: int) -> dict:
        return {"ctr": 0.68, "epochs": epochs}

    assert train(3) == {"ctr": 0.68, "epochs": 3}
    experiment = Experiment.objects.get(external_id="decorated")
    assert experiment.metrics == {"ctr": 0.68, "epochs": 3} and experiment.outcome == Outcome.SUCCESS


def test_conclude_records_a_refuted_idea(hub):
    with hub["client"]().run(**run_kwargs(), failure_mode="overfitting") as run:
        run.log_metric("ndcg_online", 0.58)
        run.conclude("failure", failure_kind="productive", failure_mode="overfitting")
    experiment = Experiment.objects.get()
    assert (experiment.outcome, experiment.failure_kind, experiment.failure_mode) == ("failure", "productive",
                                                                                      "overfitting")


def test_the_client_needs_a_url_and_token(monkeypatch):
    monkeypatch.delenv("LEARNINGHUB_URL", raising=False)
    monkeypatch.delenv("LEARNINGHUB_TOKEN", raising=False)
    with pytest.raises(ValueError):
        LearningHubClient()
    with pytest.raises(ValueError):
        ExperimentRun(client=None, base_url="http://x", token="t", team="recsys", external_id="", title="t",
                      hypothesis="h")


def test_importable_without_django():
    import subprocess
    import sys

    code = ("import sys; from experiments.client import ExperimentRun, LearningHubClient; "
            "sys.exit(1 if 'django' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- The seed's failure management: ExperimentManager and FailureDetector ------------------


def train_out_of_memory(config):
    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_run_experiment_records_a_crash_and_recommends_the_teams_lesson(hub, team, member):
    earlier = ExperimentFactory(team=team, created_by=member, crashed=True, title="Ranker v4 at batch 1024")
    LessonFactory(experiment=earlier, team=team, created_by=member,
                  text="Halve the batch size before anything else when the GPU runs out of memory")
    LessonFactory(experiment=earlier, team=team, created_by=member, text="Pin the CUDA driver version")
    manager = ExperimentManager("ranker", team="recsys", client=hub["client"]())
    result = manager.run_experiment("v5-bs2048", "Session features lift CTR", {"batch_size": 2048, "lr": 3e-4},
                                    train_out_of_memory)
    assert result["status"] == "failed" and result["error"].startswith("RuntimeError: CUDA out of memory")
    learnings = result["learnings"]
    assert learnings["error_type"] == "RuntimeError" and learnings["likely_cause"] == "GPU out of memory"
    assert learnings["failure_mode"] == "infrastructure"
    assert [issue["param"] for issue in learnings["config_issues"]] == ["batch_size"]
    assert learnings["config_issues"][0]["value"] == 2048
    assert learnings["recommendations"][0]["lesson"] == (
        "Halve the batch size before anything else when the GPU runs out of memory")

    experiment = Experiment.objects.get(external_id="ranker/v5-bs2048")
    assert (experiment.outcome, experiment.failure_kind, experiment.failure_mode) == ("failure", "system",
                                                                                      "infrastructure")
    assert experiment.error_type == "RuntimeError" and "train_out_of_memory" in experiment.error_trace
    assert experiment.time_to_failure is not None and experiment.time_to_failure.total_seconds() < 60
    assert "batch_size=2048" in experiment.approach and result["experiment_id"] == experiment.pk


def test_run_experiment_success_returns_the_metrics(hub):
    manager = ExperimentManager("ranker", team="recsys", client=hub["client"]())
    result = manager.run_experiment("v5", "h", {"epochs": 2}, lambda config: {"ctr": 0.7, "epochs": config["epochs"]})
    assert result["status"] == "success" and result["metrics"] == {"ctr": 0.7, "epochs": 2}
    experiment = Experiment.objects.get(external_id="ranker/v5")
    assert experiment.outcome == Outcome.SUCCESS and experiment.time_to_failure is None


def nan_at_step_3(seen):
    for step, loss in enumerate([2.0, 1.5, 1.2, float("nan"), 0.9, 0.8]):
        seen.append(step)
        yield {"step": step, "loss": loss}


def test_monitor_training_stops_a_nan_stream_at_that_step():
    seen: list[int] = []
    verdict = FailureDetector().monitor_training(nan_at_step_3(seen))
    assert verdict == "divergence" and verdict.step == 3 and "nan" in verdict.reason
    assert seen == [0, 1, 2, 3]  # nothing after the step it was caught at was trained


@pytest.mark.parametrize(("stream", "status", "step"), [
    ([{"loss": 1.0}, {"loss": 0.5}, {"loss": 0.2}], "completed", 2),
    ([{"loss": 1.0}, {"loss": 30.0}], "divergence", 1),
    ([{"loss": 1.0}] + [{"loss": 1.0}] * 4, "no_learning", 3),
    ([{"loss": 1.0, "val_loss": 1.0}, {"loss": 0.8, "val_loss": 1.1}, {"loss": 0.6, "val_loss": 1.2},
      {"loss": 0.5, "val_loss": 1.3}], "overfitting", 3),
])
def test_monitor_training_verdicts(stream, status, step):
    verdict = FailureDetector({"patience": 3}).monitor_training(stream)
    assert (verdict.status, verdict.step) == (status, step)


def test_a_run_stopped_by_the_detector_is_a_fast_failure_with_its_mode_and_step(hub):
    seen: list[int] = []
    manager = ExperimentManager("ranker", team="recsys", client=hub["client"]())
    result = manager.run_experiment("v6-lr1", "A higher learning rate converges faster", {"learning_rate": 1.0},
                                    lambda config: nan_at_step_3(seen))
    assert result["status"] == "failed" and result["failure_mode"] == "divergence" and result["step"] == 3
    assert seen == [0, 1, 2, 3]
    experiment = Experiment.objects.get(external_id="ranker/v6-lr1")
    assert experiment.outcome == Outcome.FAILURE and experiment.failure_mode == "other"
    assert experiment.metrics == {"step": 3, "stopped_at_step": 3}
    assert experiment.error_message.startswith("Stopped early by the failure detector (divergence)")
    assert experiment.time_to_failure is not None and not experiment.crashed


@pytest.mark.parametrize(("error", "cause", "mode"), [
    ("RuntimeError: CUDA out of memory", "GPU out of memory", "infrastructure"),
    ("MemoryError: Unable to allocate 30 GiB", "Host out of memory", "infrastructure"),
    ("ValueError: loss is nan at step 200", "Loss became NaN/Inf: training diverged", "other"),
    ("RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x512 and 256x10)", "Tensor shape mismatch", "other"),
    ("FileNotFoundError: [Errno 2] No such file or directory: '/data/train.parquet'", "A file is missing",
     "infrastructure"),
    ("KeyError: 'user_id'", "A column (or key) is missing from the data", "data_quality"),
    ("TimeoutError: NCCL watchdog timed out", "Timeout or connection error", "infrastructure"),
    ("pandera.errors.SchemaError: column 'age' failed validation", "The data failed validation", "data_quality"),
])
def test_likely_causes_of_common_failures(error, cause, mode):
    error_type, message = error.split(": ", 1)
    found = classify_failure(error_type, message)
    assert (found.cause, found.failure_mode) == (cause, mode)
