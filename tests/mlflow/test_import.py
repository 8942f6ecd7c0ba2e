"""Importing MLflow runs against a real tracking server populated by the real mlflow client:
successful, failed (with error_trace.txt) and nested runs; idempotent re-imports; changed runs;
local edits kept; and the bad input the issue lists."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from django.core.management import CommandError, call_command

from experiments import services
from experiments.mlflow.sync import sync_mapping
from experiments.models import Experiment, FailureKind, MlflowMapping, Outcome

pytestmark = pytest.mark.django_db

T0 = int(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)
TRACE = ('Traceback (most recent call last):\n  File "train.py", line 42, in train\n    loss = model(batch)\n'
         "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
MINUTE = 60_000


@pytest.fixture
def runs(mlflow_client, mlflow_experiment):
    """A parent sweep, a successful child, a crashed child, and a finished run with an approach."""
    c = mlflow_client
    parent = c.create_run(mlflow_experiment, "sweep", params={"hypothesis": "Bigger batches train faster"},
                          start_time=T0, end_time=T0 + 30 * MINUTE)
    ok = c.create_run(mlflow_experiment, "bs-256", parent=parent, status="FINISHED",
                      params={"hypothesis": "Batch 256 fits", "approach": "AdamW, lr 3e-4", "batch_size": "256"},
                      metrics={"ctr": 0.61, "loss": 0.42}, tags={"outcome": "success"},
                      start_time=T0 + MINUTE, end_time=T0 + 11 * MINUTE)
    crashed = c.create_run(mlflow_experiment, "bs-1024", parent=parent, status="FAILED",
                           params={"hypothesis": "Batch 1024 fits", "batch_size": "1024"},
                           metrics={"loss": 0.9}, tags={"outcome": "failed", "error_type": "RuntimeError",
                                                        "error_message": "CUDA out of memory"},
                           artifacts={"error_trace.txt": TRACE},
                           start_time=T0 + 2 * MINUTE, end_time=T0 + 5 * MINUTE)
    return {"parent": parent, "ok": ok, "crashed": crashed}


def import_runs(uri, name, *args):
    call_command("import_mlflow", "--tracking-uri", uri, "--experiment", name, "--team", "recsys", *args)


def test_runs_become_experiments_and_a_second_import_changes_nothing(team, mlflow_server, mlflow_experiment, runs,
                                                                     capsys):
    import_runs(mlflow_server, mlflow_experiment)
    assert "3 new, 0 changed, 0 unchanged" in capsys.readouterr().out

    ok = Experiment.objects.get(team=team, external_id=runs["ok"])
    assert ok.title == "bs-256" and ok.hypothesis == "Batch 256 fits" and ok.approach == "AdamW, lr 3e-4"
    assert ok.outcome == Outcome.SUCCESS and ok.metrics == {"ctr": 0.61, "loss": 0.42}
    assert ok.started_at == dt.datetime(2026, 3, 2, 9, 1, tzinfo=dt.UTC)
    assert ok.ended_at == dt.datetime(2026, 3, 2, 9, 11, tzinfo=dt.UTC)

    crashed = Experiment.objects.get(team=team, external_id=runs["crashed"])
    assert crashed.outcome == Outcome.FAILURE and crashed.failure_kind == FailureKind.SYSTEM
    assert crashed.error_type == "RuntimeError" and crashed.error_message == "CUDA out of memory"
    assert crashed.error_trace == TRACE and crashed.failure_mode == "infrastructure"
    assert crashed.time_to_failure == dt.timedelta(minutes=3)

    parent = Experiment.objects.get(team=team, external_id=runs["parent"])
    assert ok.builds_on == parent and crashed.builds_on == parent and parent.builds_on is None

    versions = dict(Experiment.objects.values_list("pk", "version"))
    import_runs(mlflow_server, mlflow_experiment, "--since", "2026-01-01")
    assert "0 new, 0 changed, 3 unchanged" in capsys.readouterr().out
    assert Experiment.objects.count() == 3 and dict(Experiment.objects.values_list("pk", "version")) == versions


def test_a_resync_reads_from_the_cursor_and_a_finished_run_updates(team, mlflow_server, mlflow_client,
                                                                   mlflow_experiment, runs):
    running = mlflow_client.create_run(mlflow_experiment, "bs-512", status="RUNNING",
                                       params={"hypothesis": "Batch 512 fits"}, start_time=T0 + 3 * MINUTE)
    later = mlflow_client.create_run(mlflow_experiment, "bs-128", params={"hypothesis": "Batch 128"},
                                     start_time=T0 + 20 * MINUTE, end_time=T0 + 25 * MINUTE)
    mapping = MlflowMapping.objects.create(team=team, tracking_uri=mlflow_server, experiment_name=mlflow_experiment)
    first = sync_mapping(mapping)
    assert (first.created, first.error) == (5, "")
    assert Experiment.objects.get(external_id=running).outcome == Outcome.IN_PROGRESS
    mapping.refresh_from_db()
    assert mapping.cursor_start_time == T0 + 3 * MINUTE  # stops at the run still in progress
    assert mapping.last_result.startswith("5 new")

    mlflow_client.update_run(running, status="FAILED", metrics={"loss": 7.5}, end_time=T0 + 4 * MINUTE,
                             tags={"error_type": "MemoryError"})
    second = sync_mapping(mapping)
    assert (second.created, second.updated, second.unchanged) == (0, 1, 1)  # read from the cursor on
    finished = Experiment.objects.get(external_id=running)
    assert finished.outcome == Outcome.FAILURE and finished.error_type == "MemoryError"
    assert finished.metrics == {"loss": 7.5} and finished.error_trace == ""
    assert any("without an error_trace.txt" in line for line in second.warnings)  # a missing artifact
    mapping.refresh_from_db()
    assert mapping.cursor_start_time == T0 + 20 * MINUTE
    assert Experiment.objects.filter(external_id=later).count() == 1


def test_a_run_edited_here_is_reported_not_overwritten(team, member, mlflow_server, mlflow_client,
                                                       mlflow_experiment, runs, capsys):
    import_runs(mlflow_server, mlflow_experiment)
    crashed = Experiment.objects.get(external_id=runs["crashed"])
    services.experiment_update(experiment=crashed, user=member, data={"title": "Batch 1024: GPU OOM",
                                                                       "failure_kind": FailureKind.WASTEFUL})
    mlflow_client.update_run(runs["crashed"], tags={"error_message": "CUDA out of memory (again)"})
    mlflow_client.update_run(runs["ok"], metrics={"ctr": 0.63})
    capsys.readouterr()
    import_runs(mlflow_server, mlflow_experiment, "--since", "2026-03-01")
    captured = capsys.readouterr()
    assert "0 new, 1 changed, 1 unchanged, 1 edited here (not overwritten)" in captured.out
    assert f"kept: {runs['crashed']} was edited in LearningHub" in captured.err
    crashed.refresh_from_db()
    assert crashed.title == "Batch 1024: GPU OOM" and crashed.error_message == "CUDA out of memory"
    assert Experiment.objects.get(external_id=runs["ok"]).metrics["ctr"] == 0.63


def test_non_numeric_metrics_and_huge_params_are_imported_with_warnings(team, mlflow_server, mlflow_client,
                                                                        mlflow_experiment, capsys):
    run = mlflow_client.create_run(mlflow_experiment, "diverged", status="FINISHED",
                                   params={"hypothesis": "h" * 6000, "approach": "a" * 6000},
                                   metrics={"loss": "nan", "ctr": 0.5}, tags={"outcome": "failure"},
                                   start_time=T0, end_time=T0 + MINUTE)
    import_runs(mlflow_server, mlflow_experiment, "--no-detect")
    captured = capsys.readouterr()
    experiment = Experiment.objects.get(external_id=run)
    assert experiment.metrics == {"ctr": 0.5} and len(experiment.hypothesis) == 6000
    assert experiment.outcome == Outcome.FAILURE and experiment.failure_kind == ""
    assert "metric 'loss' is 'NaN', not a finite number; left out" in captured.err


def test_an_unreachable_or_wrong_server_and_an_unknown_experiment_are_clear_errors(team, mlflow_server, live_server):
    with pytest.raises(CommandError, match=r"unreachable.*Check the URI"):
        import_runs("http://127.0.0.1:9", "anything")
    with pytest.raises(CommandError, match="is it an MLflow tracking server"):
        import_runs(live_server.url, "anything")
    with pytest.raises(CommandError, match="has no experiment named “no-such-experiment”"):
        import_runs(mlflow_server, "no-such-experiment")
    with pytest.raises(CommandError, match="No team with the slug 'nope'"):
        call_command("import_mlflow", "--tracking-uri", mlflow_server, "--experiment", "x", "--team", "nope")
    assert not Experiment.objects.exists()


class FailSecondPage(httpx.BaseTransport):
    """The real server, except that the second runs search of each sync answers 500."""

    def __init__(self):
        self.real, self.searches = httpx.HTTPTransport(), 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/runs/search"):
            self.searches += 1
            if self.searches == 2:
                return httpx.Response(500, json={"error_code": "INTERNAL_ERROR", "message": "database is locked"})
        return self.real.handle_request(request)


def test_a_500_mid_page_keeps_what_was_imported_and_the_cursor_before_the_failed_page(
        team, mlflow_server, mlflow_client, mlflow_experiment):
    ids = [mlflow_client.create_run(mlflow_experiment, f"run-{i}", params={"hypothesis": f"h{i}"},
                                    start_time=T0 + i * MINUTE, end_time=T0 + i * MINUTE + 1000) for i in range(5)]
    mapping = MlflowMapping.objects.create(team=team, tracking_uri=mlflow_server, experiment_name=mlflow_experiment)
    result = sync_mapping(mapping, transport=FailSecondPage(), page_size=2)
    assert result.created == 2 and "HTTP 500: INTERNAL_ERROR: database is locked" in result.error
    mapping.refresh_from_db()
    assert mapping.cursor_start_time == T0 + MINUTE and "stopped" in mapping.last_result
    resumed = sync_mapping(mapping, page_size=2)
    assert (resumed.created, resumed.unchanged, resumed.error) == (3, 1, "")
    assert sorted(Experiment.objects.values_list("external_id", flat=True)) == sorted(ids)


def test_the_periodic_sync_runs_each_enabled_mapping(team, mlflow_server, mlflow_experiment, runs):
    from experiments.tasks import sync_mlflow_mappings

    MlflowMapping.objects.create(team=team, tracking_uri=mlflow_server, experiment_name=mlflow_experiment)
    MlflowMapping.objects.create(team=team, tracking_uri=mlflow_server, experiment_name="paused", enabled=False)
    assert sync_mlflow_mappings.delay().get() == 1
    assert Experiment.objects.filter(team=team).count() == 3
