"""Runs inside the MLflow test virtualenv (.venv-mlflow), not ours: the real ``mlflow`` client,
driven by JSON commands on stdin (one per line), one JSON answer per line on stdout. One
process per test session, so ``import mlflow`` (seconds) is paid once."""

import json
import sys

from mlflow.tracking import MlflowClient


def create_run(client, experiment, name, status="FINISHED", params=None, metrics=None, tags=None, artifacts=None,
               parent=None, start_time=None, end_time=None):
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    tags = dict(tags or {})
    if parent:
        tags["mlflow.parentRunId"] = parent
    run = client.create_run(experiment_id, start_time=start_time, tags=tags, run_name=name)
    run_id = run.info.run_id
    for key, value in (params or {}).items():
        client.log_param(run_id, key, value)
    for key, value in (metrics or {}).items():
        client.log_metric(run_id, key, float(value), step=0)
    for path, text in (artifacts or {}).items():
        client.log_text(run_id, text, path)
    if status != "RUNNING":
        client.set_terminated(run_id, status, end_time=end_time)
    return run_id


def update_run(client, run_id, status=None, tags=None, metrics=None, end_time=None, artifacts=None):
    for key, value in (tags or {}).items():
        client.set_tag(run_id, key, value)
    for key, value in (metrics or {}).items():
        client.log_metric(run_id, key, float(value), step=1)
    for path, text in (artifacts or {}).items():
        client.log_text(run_id, text, path)
    if status:
        client.set_terminated(run_id, status, end_time=end_time)
    return run_id


def create_runs(client, experiment, count, start_time, failed_every=10, store_uri=None):
    """Many runs at once (the benchmark), one a second apart. With ``store_uri`` (the server's
    ``sqlite:///…`` backend store) they are written straight into the store, not over HTTP."""
    from mlflow.entities import Metric, Param, RunTag

    if store_uri:
        client = MlflowClient(tracking_uri=store_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    for index in range(count):
        start = start_time + index * 1000
        run = client.create_run(experiment_id, start_time=start, run_name=f"run-{index}")
        failed = failed_every and index % failed_every == failed_every - 1
        client.log_batch(run.info.run_id, metrics=[Metric("loss", 1.0 / (index + 1), start, 0),
                                                   Metric("ctr", 0.5, start, 0)],
                         params=[Param("hypothesis", f"Hypothesis {index}"), Param("batch_size", "256")],
                         tags=[RunTag("error_type", "RuntimeError")] if failed else [])
        client.set_terminated(run.info.run_id, "FAILED" if failed else "FINISHED", end_time=start + 500)
    return count


def main() -> None:
    answers, sys.stdout = sys.stdout, sys.stderr  # mlflow prints "View run …" lines: keep them off the answers
    client = MlflowClient(tracking_uri=sys.argv[1])
    operations = {"create_run": create_run, "update_run": update_run, "create_runs": create_runs}
    print(json.dumps({"ready": True}), file=answers, flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            result = operations[command.pop("op")](client, **command)
            print(json.dumps({"result": result}), file=answers, flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), file=answers, flush=True)


if __name__ == "__main__":
    main()
