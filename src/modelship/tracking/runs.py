"""The MLflow run the train stage opens, fills and closes, through `MlflowClient`.

Every call raises `ExternalError` (exit 3) naming the redacted URI when the
tracking store fails; an http(s) server that is not there is reported within
seconds (see `modelship.tracking.client`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelship.ci.errors import ExternalError
from modelship.ci.redact import redact_url
from modelship.tracking.client import guarded, open_client

if TYPE_CHECKING:
    from mlflow import MlflowClient


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


def now_ms() -> int:
    return int(time.time() * 1000)


class RunStore:
    """One tracking store's runs: create, log, read, find the logged models, finish."""

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        self.uri = uri
        self.shown = redact_url(uri)
        self._client: MlflowClient = guarded(lambda: open_client(uri, env), self.shown)

    @property
    def client(self) -> MlflowClient:
        """The store's one client, for calls this class does not wrap (a client is not free:
        on a SQLite store, making one opens MLflow's database layer)."""
        return self._client

    def experiment_id(self, name: str) -> str:
        """The id of the named experiment, created when missing."""

        def call() -> str:
            experiment = self._client.get_experiment_by_name(name)
            if experiment is None:
                return str(self._client.create_experiment(name))
            if experiment.lifecycle_stage == "deleted":
                raise ExternalError(
                    f"experiment {name!r} is deleted in {self.shown}",
                    "restore it in the MLflow UI or choose another experiment name",
                )
            return str(experiment.experiment_id)

        return guarded(call, self.shown)

    def create_run(self, experiment_id: str, run_name: str | None, tags: Mapping[str, str]) -> str:
        """Open a run (status RUNNING) and return its id."""
        run = guarded(
            lambda: self._client.create_run(experiment_id, tags=dict(tags), run_name=run_name),
            self.shown,
        )
        return str(run.info.run_id)

    def log_batch(
        self,
        run_id: str,
        params: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if not (params or metrics or tags):
            return
        from mlflow.entities import Metric, Param, RunTag

        now = now_ms()
        guarded(
            lambda: self._client.log_batch(
                run_id,
                metrics=[Metric(k, v, now, 0) for k, v in (metrics or {}).items()],
                params=[Param(k, v) for k, v in (params or {}).items()],
                tags=[RunTag(k, v) for k, v in (tags or {}).items()],
            ),
            self.shown,
        )

    def get_run(self, run_id: str) -> RunState:
        run = guarded(lambda: self._client.get_run(run_id), self.shown)
        return RunState(
            status=str(run.info.status),
            metrics={k: float(v) for k, v in run.data.metrics.items()},
            params=dict(run.data.params),
            tags=dict(run.data.tags),
        )

    def logged_models(
        self, experiment_id: str, run_id: str, run_tags: Mapping[str, str] | None = None
    ) -> list[LoggedModel]:
        """Models logged in the run, oldest first. `run_tags`: the run's tags when the caller
        has just read the run (saves reading it again for MLflow 2's model history)."""

        def call() -> list[LoggedModel]:
            models = sorted(self._ready_models(experiment_id, run_id), key=lambda m: m.created_ms)
            if not models:  # a model logged by MLflow 2 is only in the run's history tag
                tags = run_tags if run_tags is not None else self.get_run(run_id).tags
                return _models_from_history(run_id, tags)
            return models

        return guarded(call, self.shown)

    def _ready_models(self, experiment_id: str, run_id: str) -> list[LoggedModel]:
        """The run's MLflow 3 logged models; none from an MLflow 2 client or server."""
        from mlflow.exceptions import MlflowException

        search = getattr(self._client, "search_logged_models", None)
        if search is None:
            return []
        try:
            found = search(
                experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
            )
        except MlflowException as err:
            if err.error_code == "ENDPOINT_NOT_FOUND":
                return []
            raise
        return [
            LoggedModel(f"models:/{m.model_id}", str(m.name), int(m.creation_timestamp or 0))
            for m in found
            if str(getattr(m.status, "name", m.status)).endswith("READY")
        ]

    def finish(self, run_id: str, status: str) -> None:
        """Set the run's final status: FINISHED, FAILED or KILLED."""
        guarded(lambda: self._client.set_terminated(run_id, status=status), self.shown)


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
