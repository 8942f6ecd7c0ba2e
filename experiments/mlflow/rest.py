"""A small reader of the MLflow tracking server's REST API (``/api/2.0/mlflow/…``), with httpx.

Only what the import needs: an experiment by name, runs searched page by page in start-time
order, and a run's artifacts (listed, and ``error_trace.txt`` downloaded through the server's
artifact proxy). Every failure is an :class:`MlflowError` whose message says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

PAGE_SIZE = 500
MAX_ARTIFACT_BYTES = 1_000_000


class MlflowError(Exception):
    """The tracking server could not be read (unreachable, not MLflow, refused, or no such experiment)."""


@dataclass(frozen=True)
class RunPage:
    runs: list[dict[str, Any]]
    next_page_token: str | None = None


@dataclass
class MlflowRest:
    tracking_uri: str
    timeout: float = 30.0
    transport: httpx.BaseTransport | None = None
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tracking_uri = self.tracking_uri.rstrip("/")
        if not self.tracking_uri.startswith(("http://", "https://")):
            raise MlflowError(f"Tracking URI “{self.tracking_uri}” must be an http(s) URL of an MLflow tracking "
                              "server, e.g. http://mlflow:5000.")
        self._http = httpx.Client(base_url=self.tracking_uri, timeout=self.timeout, transport=self.transport,
                                  headers={"User-Agent": "learninghub-mlflow-import/1"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MlflowRest:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise MlflowError(f"MLflow tracking server {self.tracking_uri} is unreachable "
                              f"({type(exc).__name__}: {exc}). Check the URI and that the server is running.") from exc

    def _json(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        response = self._request(method, path, **kwargs)
        if response.is_error:
            raise MlflowError(self._describe(response, path))
        try:
            body = response.json()
        except ValueError:
            raise MlflowError(f"{self.tracking_uri} answered {path} with something that is not JSON: is it an "
                              "MLflow tracking server?") from None
        if not isinstance(body, dict):
            raise MlflowError(f"{self.tracking_uri} answered {path} with unexpected JSON: is it an MLflow server?")
        return body

    def _describe(self, response: httpx.Response, path: str) -> str:
        try:
            payload = response.json()
            detail = f"{payload.get('error_code', '')}: {payload.get('message', '')}".strip(": ")
        except (ValueError, AttributeError):
            # MLflow answers its API's errors in JSON; an HTML page is some other server.
            return (f"{self.tracking_uri} answered {path} with HTTP {response.status_code} and no MLflow error: "
                    "is it an MLflow tracking server? Give the server's base URL, without /api or #/experiments.")
        if response.status_code == 404 and not detail.startswith("RESOURCE_DOES_NOT_EXIST"):
            return (f"{self.tracking_uri} has no {path} (HTTP 404): is it an MLflow tracking server? "
                    "Give the server's base URL, without /api or #/experiments.")
        detail = detail or "no detail"
        return f"MLflow at {self.tracking_uri} answered {path} with HTTP {response.status_code}: {detail}"

    def experiment_id(self, name: str) -> str:
        """The id of the experiment called ``name``; MlflowError when there is none."""
        path = "/api/2.0/mlflow/experiments/get-by-name"
        response = self._request("GET", path, params={"experiment_name": name})
        if response.status_code == 404:
            try:
                code = response.json().get("error_code")
            except (ValueError, AttributeError):
                code = None
            if code == "RESOURCE_DOES_NOT_EXIST":
                raise MlflowError(f"MLflow at {self.tracking_uri} has no experiment named “{name}”.")
        if response.is_error:
            raise MlflowError(self._describe(response, path))
        try:
            return str(response.json()["experiment"]["experiment_id"])
        except (ValueError, KeyError, TypeError):
            raise MlflowError(f"{self.tracking_uri} answered {path} unexpectedly: is it an MLflow server?") from None

    def search_page(self, experiment_id: str, *, since_ms: int | None = None, page_token: str | None = None,
                    page_size: int = PAGE_SIZE) -> RunPage:
        """One page of the experiment's active runs, oldest start first, from ``since_ms`` on."""
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": page_size,
                                "order_by": ["attributes.start_time ASC"], "run_view_type": "ACTIVE_ONLY"}
        if since_ms is not None:
            body["filter"] = f"attributes.start_time >= {int(since_ms)}"
        if page_token:
            body["page_token"] = page_token
        data = self._json("POST", "/api/2.0/mlflow/runs/search", json=body)
        return RunPage(runs=list(data.get("runs") or []), next_page_token=data.get("next_page_token") or None)

    def pages(self, experiment_id: str, *, since_ms: int | None = None,
              page_size: int = PAGE_SIZE) -> Iterator[RunPage]:
        token = None
        while True:
            page = self.search_page(experiment_id, since_ms=since_ms, page_token=token, page_size=page_size)
            yield page
            token = page.next_page_token
            if not token or not page.runs:
                return

    def artifact_paths(self, run_id: str) -> set[str]:
        """The paths of the run's top-level artifacts."""
        data = self._json("GET", "/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
        return {item["path"] for item in data.get("files") or [] if not item.get("is_dir")}

    def artifact_text(self, run_id: str, path: str) -> str | None:
        """A text artifact's content (at most MAX_ARTIFACT_BYTES), or None when it is missing."""
        response = self._request("GET", "/get-artifact", params={"path": path, "run_uuid": run_id})
        if response.status_code == 404:
            return None
        if response.is_error:
            raise MlflowError(self._describe(response, f"/get-artifact?path={path}"))
        return response.content[:MAX_ARTIFACT_BYTES].decode("utf-8", errors="replace")
