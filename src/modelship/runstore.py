"""The MLflow run a stage opens, fills and closes, over REST or `MlflowClient`.

Importing MLflow costs seconds (it pulls in pandas and more). For an http(s)
tracking server - the usual case in CI - the handful of calls the train stage
makes go straight to MLflow's REST API with the standard library, so modelship adds
well under a second to a training job. An existing embedded SQLite store with
MLflow 3's tables is written with `sqlite3` (`modelship.sqlitestore`). Any
other URI (a new SQLite store, `file:`, `databricks`) goes through `MlflowClient`.

Both stores raise `ExternalError` (exit 3) naming the redacted URI when the
server cannot be reached, within a bounded time.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from modelship.ci.errors import ExternalError
from modelship.tracking import authenticated_uri, is_http, redact_uri
from modelship.tracking import client as mlflow_client

# One timeout covers connecting and each read; a dead host costs at most
# (RETRIES + 1) * READ_TIMEOUT plus the pauses between attempts.
READ_TIMEOUT = 10.0
RETRIES = 2


@dataclass(frozen=True)
class LoggedModel:
    """A model logged in a run: `uri` is what later stages load."""

    uri: str
    name: str
    created_ms: int


@dataclass
class RunState:
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


class RunStore(Protocol):
    uri: str

    def experiment_id(self, name: str) -> str:
        """The id of the named experiment, created when missing."""

    def create_run(self, experiment_id: str, run_name: str | None, tags: Mapping[str, str]) -> str:
        """Open a run (status RUNNING) and return its id."""

    def log_batch(
        self,
        run_id: str,
        params: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None: ...

    def get_run(self, run_id: str) -> RunState: ...

    def logged_models(self, experiment_id: str, run_id: str) -> list[LoggedModel]:
        """Models logged in the run, oldest first."""

    def finish(self, run_id: str, status: str) -> None:
        """Set the run's final status: FINISHED, FAILED or KILLED."""


def open_store(uri: str, env: Mapping[str, str]) -> RunStore:
    """REST for http(s), `sqlite3` for a known SQLite store, `MlflowClient` for the rest."""
    if is_http(uri):
        return RestStore(uri, env)
    from modelship.sqlitestore import open_sqlite

    return open_sqlite(uri, env) or ClientStore(uri, env)


def now_ms() -> int:
    return int(time.time() * 1000)


def deleted_experiment(name: str, shown_uri: str) -> ExternalError:
    """The error every store raises for a deleted experiment (exit 3)."""
    return ExternalError(
        f"experiment {name!r} is deleted in {shown_uri}",
        "restore it in the MLflow UI or choose another experiment name",
    )


def _models_from_history(run_id: str, tags: Mapping[str, str]) -> list[LoggedModel]:
    """MLflow 2 records logged models in the `mlflow.log-model.history` tag."""
    try:
        history = json.loads(tags.get("mlflow.log-model.history", "[]"))
    except ValueError:
        return []
    models = []
    for entry in history if isinstance(history, list) else []:
        path = entry.get("artifact_path") if isinstance(entry, dict) else None
        if path:
            models.append(LoggedModel(f"runs:/{run_id}/{path}", str(path), 0))
    return models


class RestStore:
    """MLflow's REST API (`/api/2.0/mlflow/...`) with the standard library.

    `urllib` rather than `requests`: importing requests costs more than all
    of these calls together. Authentication follows MLflow's own variables:
    `MLFLOW_TRACKING_TOKEN` (bearer), `MLFLOW_TRACKING_USERNAME` and
    `MLFLOW_TRACKING_PASSWORD` or a `user:password@` in the URI (basic),
    `MLFLOW_TRACKING_INSECURE_TLS`, `MLFLOW_TRACKING_SERVER_CERT_PATH` and
    `MLFLOW_TRACKING_CLIENT_CERT_PATH`.
    """

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        self.uri = uri
        self.shown = redact_uri(uri)
        parts = urlsplit(uri)
        host = parts.netloc.rpartition("@")[2]
        self._base = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        self._headers = {
            "User-Agent": "modelship",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        user, password = parts.username, parts.password
        if env.get("MLFLOW_TRACKING_USERNAME"):
            user, password = env["MLFLOW_TRACKING_USERNAME"], env.get("MLFLOW_TRACKING_PASSWORD")
        if env.get("MLFLOW_TRACKING_TOKEN"):
            self._headers["Authorization"] = f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"
        elif user:
            pair = f"{unquote(user)}:{unquote(password or '')}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        self._tls: ssl.SSLContext | None = None
        if parts.scheme.lower() == "https":
            self._tls = ssl.create_default_context(
                cafile=env.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
            )
            if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
                self._tls.check_hostname = False
                self._tls.verify_mode = ssl.CERT_NONE
            if env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
                self._tls.load_cert_chain(env["MLFLOW_TRACKING_CLIENT_CERT_PATH"])

    def _call(
        self,
        method: str,
        endpoint: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        url = f"{self._base}/api/2.0/mlflow/{endpoint}"
        if params:
            url += "?" + urlencode(params)
        data = json.dumps(body).encode("utf-8") if body is not None else None
        last: Exception | None = None
        for attempt in range(RETRIES + 1):
            if attempt:
                time.sleep(attempt)
            # http(s) only: open_store sends nothing else here.
            request = urllib.request.Request(url, data, self._headers, method=method)  # noqa: S310
            try:
                with urllib.request.urlopen(  # noqa: S310
                    request, timeout=READ_TIMEOUT, context=self._tls
                ) as response:
                    payload = response.read()
            except urllib.error.HTTPError as err:
                status, text = err.code, err.read().decode("utf-8", "replace")
                if status >= 500 or status == 429:
                    last = ExternalError(f"HTTP {status}")
                    continue
                if status == 404 and missing_ok:
                    return {}
                raise ExternalError(
                    f"MLflow at {self.shown} refused {endpoint}: HTTP {status} "
                    f"{_error_message(text)}",
                    _hint_for(status),
                ) from None
            except (OSError, http.client.HTTPException) as err:
                last = err
                continue
            try:
                loaded = json.loads(payload)
            except ValueError:
                raise ExternalError(
                    f"{self.shown} answered {endpoint} with something that is not MLflow JSON",
                    "check that the tracking URI points at an MLflow server",
                ) from None
            return loaded if isinstance(loaded, dict) else {}
        raise ExternalError(
            f"cannot reach the MLflow tracking server at {self.shown}: {_reason(last)}",
            "check the tracking-uri input or MLFLOW_TRACKING_URI, and that the server is up",
        )

    def experiment_id(self, name: str) -> str:
        found = self._call(
            "GET", "experiments/get-by-name", params={"experiment_name": name}, missing_ok=True
        )
        if found.get("experiment"):
            experiment = found["experiment"]
            if experiment.get("lifecycle_stage") == "deleted":
                raise deleted_experiment(name, self.shown)
            return str(experiment["experiment_id"])
        try:
            return str(self._call("POST", "experiments/create", {"name": name})["experiment_id"])
        except ExternalError:
            # Another job created it in between.
            again = self._call(
                "GET", "experiments/get-by-name", params={"experiment_name": name}, missing_ok=True
            )
            if again.get("experiment"):
                return str(again["experiment"]["experiment_id"])
            raise

    def create_run(self, experiment_id: str, run_name: str | None, tags: Mapping[str, str]) -> str:
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "start_time": now_ms(),
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if run_name:
            body["run_name"] = run_name
            body["tags"].append({"key": "mlflow.runName", "value": run_name})
        return str(self._call("POST", "runs/create", body)["run"]["info"]["run_id"])

    def log_batch(
        self,
        run_id: str,
        params: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        now = now_ms()
        body = {
            "run_id": run_id,
            "params": [{"key": k, "value": v} for k, v in (params or {}).items()],
            "metrics": [
                {"key": k, "value": v, "timestamp": now, "step": 0}
                for k, v in (metrics or {}).items()
            ],
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        if body["params"] or body["metrics"] or body["tags"]:
            self._call("POST", "runs/log-batch", body)

    def get_run(self, run_id: str) -> RunState:
        run = self._call("GET", "runs/get", params={"run_id": run_id})["run"]
        data = run.get("data", {})
        return RunState(
            status=str(run["info"].get("status", "")),
            metrics={m["key"]: _as_float(m.get("value")) for m in data.get("metrics", [])},
            params={p["key"]: str(p.get("value", "")) for p in data.get("params", [])},
            tags={t["key"]: str(t.get("value", "")) for t in data.get("tags", [])},
        )

    def logged_models(self, experiment_id: str, run_id: str) -> list[LoggedModel]:
        found = self._call(
            "POST",
            "logged-models/search",
            {"experiment_ids": [experiment_id], "filter": f"source_run_id = '{run_id}'"},
            missing_ok=True,  # an MLflow 2 server has no logged models
        )
        models = [
            LoggedModel(
                f"models:/{info['model_id']}",
                str(info.get("name", "")),
                int(info.get("creation_timestamp_ms", 0)),
            )
            for info in (m.get("info", {}) for m in found.get("models", []))
            if info.get("status", "LOGGED_MODEL_READY") == "LOGGED_MODEL_READY"
        ]
        if models:
            return sorted(models, key=lambda m: m.created_ms)
        return _models_from_history(run_id, self.get_run(run_id).tags)

    def finish(self, run_id: str, status: str) -> None:
        self._call(
            "POST", "runs/update", {"run_id": run_id, "status": status, "end_time": now_ms()}
        )


class ClientStore:
    """The same calls through `MlflowClient`, for SQLite, file and other stores."""

    def __init__(self, uri: str, env: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self.shown = redact_uri(uri)
        access_uri = authenticated_uri(uri, env or {})
        self._client = self._guard(lambda: mlflow_client(access_uri))

    def _guard(self, call: Any) -> Any:
        try:
            return call()
        except ExternalError:
            raise
        except Exception as err:
            if type(err).__name__ == "MlflowException" or isinstance(err, OSError):
                raise ExternalError(
                    f"MLflow tracking store {self.shown} failed: {str(err).splitlines()[0][:300]}",
                    "check the tracking-uri input or MLFLOW_TRACKING_URI",
                ) from None
            raise

    def experiment_id(self, name: str) -> str:
        def call() -> str:
            experiment = self._client.get_experiment_by_name(name)
            if experiment is None:
                return str(self._client.create_experiment(name))
            if experiment.lifecycle_stage == "deleted":
                raise deleted_experiment(name, self.shown)
            return str(experiment.experiment_id)

        result: str = self._guard(call)
        return result

    def create_run(self, experiment_id: str, run_name: str | None, tags: Mapping[str, str]) -> str:
        run = self._guard(
            lambda: self._client.create_run(experiment_id, tags=dict(tags), run_name=run_name)
        )
        return str(run.info.run_id)

    def log_batch(
        self,
        run_id: str,
        params: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = now_ms()
        self._guard(
            lambda: self._client.log_batch(
                run_id,
                metrics=[Metric(k, v, now, 0) for k, v in (metrics or {}).items()],
                params=[Param(k, v) for k, v in (params or {}).items()],
                tags=[RunTag(k, v) for k, v in (tags or {}).items()],
            )
        )

    def get_run(self, run_id: str) -> RunState:
        run = self._guard(lambda: self._client.get_run(run_id))
        return RunState(
            status=str(run.info.status),
            metrics={k: float(v) for k, v in run.data.metrics.items()},
            params=dict(run.data.params),
            tags=dict(run.data.tags),
        )

    def logged_models(self, experiment_id: str, run_id: str) -> list[LoggedModel]:
        def call() -> list[LoggedModel]:
            search = getattr(self._client, "search_logged_models", None)
            if search is None:  # MLflow 2
                return _models_from_history(run_id, self._client.get_run(run_id).data.tags)
            found = search(
                experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
            )
            models = [
                LoggedModel(f"models:/{m.model_id}", str(m.name), int(m.creation_timestamp or 0))
                for m in found
                if str(getattr(m.status, "name", m.status)).endswith("READY")
            ]
            return sorted(models, key=lambda m: m.created_ms)

        result: list[LoggedModel] = self._guard(call)
        return result

    def finish(self, run_id: str, status: str) -> None:
        self._guard(lambda: self._client.set_terminated(run_id, status=status))


def _as_float(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _error_message(text: str) -> str:
    try:
        loaded = json.loads(text)
    except ValueError:
        return text[:200].strip()
    return str(loaded.get("message", ""))[:300] if isinstance(loaded, dict) else text[:200]


def _hint_for(status: int) -> str | None:
    if status in (401, 403):
        return "check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
    if status == 404:
        return "check that the tracking URI points at an MLflow server (no /api suffix)"
    return None


def _reason(err: Exception | None) -> str:
    if err is None:
        return "no answer"
    reason = getattr(err, "reason", err)
    if isinstance(reason, (TimeoutError, ssl.SSLError)) and "timed out" in str(reason):
        return f"timed out after {READ_TIMEOUT:g}s ({RETRIES + 1} attempts)"
    if isinstance(reason, ConnectionRefusedError):
        return f"connection refused ({RETRIES + 1} attempts)"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{reason.strerror} ({RETRIES + 1} attempts)"
    return str(reason)[:200]
