"""Model URIs: `runs:/<run-id>/<path>` and every `models:/` form, and the run behind them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from modelship.ci.errors import ExternalError, UsageError

if TYPE_CHECKING:
    from mlflow import MlflowClient

ModelKind = Literal["run", "logged", "version", "alias", "stage"]

_RUN_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_RUNS_URI = re.compile(rf"^runs:/(?P<run>{_RUN_ID})(?:/(?P<path>.+))?$")
_LOGGED = re.compile(r"^models:/(?P<id>m-[0-9a-f]{8,64})/?$")
_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[A-Za-z0-9_-]+)$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[1-9][0-9]*|latest)$")
_STAGE = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<stage>[A-Za-z]+)$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model URI.

    kind is `run` (`runs:/<run-id>/<path>`), `logged` (`models:/m-<id>`, an
    MLflow 3 logged model), `version` (`models:/<name>/<version>` or
    `/latest`), `alias` (`models:/<name>@<alias>`) or `stage` (a legacy stage
    name such as `models:/<name>/Production`).
    """

    uri: str
    kind: ModelKind
    run_id: str = ""
    artifact_path: str = ""
    model_id: str = ""
    name: str = ""
    version: str = ""
    alias: str = ""
    stage: str = ""

    @property
    def is_registered(self) -> bool:
        return self.kind in ("version", "alias", "stage")


def parse_model_uri(uri: str, what: str = "model-uri") -> ModelRef:
    """Parse a model URI, or raise `UsageError` naming the input and the accepted forms."""
    text = uri.strip()
    if match := _RUNS_URI.match(text):
        path = (match["path"] or "").strip("/")
        if not path:
            raise UsageError(
                f"input '{what}': {text!r} names a run but no artifact path",
                "write runs:/<run-id>/<artifact-path>, e.g. runs:/0a1b.../model",
            )
        return ModelRef(text, "run", run_id=match["run"], artifact_path=path)
    if match := _LOGGED.match(text):
        return ModelRef(text.rstrip("/"), "logged", model_id=match["id"])
    if match := _ALIAS.match(text):
        return ModelRef(text, "alias", name=match["name"], alias=match["alias"])
    if match := _VERSION.match(text):
        return ModelRef(text, "version", name=match["name"], version=match["version"])
    if match := _STAGE.match(text):
        return ModelRef(text, "stage", name=match["name"], stage=match["stage"])
    raise UsageError(
        f"input '{what}': {text[:80]!r} is not a model URI",
        "use runs:/<run-id>/<path>, models:/m-<id>, models:/<name>/<version> "
        "or models:/<name>@<alias>",
    )


def model_run_id(client: MlflowClient, ref: ModelRef) -> str:
    """The id of the run that produced the model a URI points to ('' if none is recorded)."""
    if ref.kind == "run":
        return ref.run_id
    if ref.kind == "logged":
        return logged_model_run_id(client.get_logged_model(ref.model_id))
    if ref.kind == "alias":
        return str(client.get_model_version_by_alias(ref.name, ref.alias).run_id or "")
    if ref.kind == "version" and ref.version != "latest":
        return str(client.get_model_version(ref.name, ref.version).run_id or "")
    stages = [ref.stage] if ref.kind == "stage" else None
    versions = client.get_latest_versions(ref.name, stages=stages)
    return str(versions[0].run_id or "") if versions else ""


def logged_model_run_id(model: Any) -> str:
    """The run of an MLflow 3 logged model: its source run, else the run the train stage
    linked it to when the training logged it outside the run."""
    from modelship.tracking.lineage import RUN_ID

    return str(model.source_run_id or (model.tags or {}).get(RUN_ID) or "")


def model_files(client: Any, uri: str) -> str:
    """Where the files of the model named by `uri` are stored, found through `client`,
    so a download of them needs no process-wide registry URI."""

    if not uri.startswith(("runs:", "models:")):
        return uri
    ref = parse_model_uri(uri)
    if ref.kind == "logged":
        return str(client.get_logged_model(ref.model_id).artifact_location)
    if ref.kind == "run":
        run = client.get_run(ref.run_id)
        wanted = ref.artifact_path.strip("/")
        for model in client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{ref.run_id}'",
            max_results=100,
        ):
            if model.name == wanted:
                return str(model.artifact_location)
        return f"{run.info.artifact_uri.rstrip('/')}/{wanted}"
    if ref.kind == "alias":
        version = str(client.get_model_version_by_alias(ref.name, ref.alias).version)
    elif ref.kind == "version" and ref.version != "latest":
        version = ref.version
    else:
        stages = [ref.stage] if ref.kind == "stage" else None
        latest = client.get_latest_versions(ref.name, stages=stages)
        if not latest:
            raise ExternalError(f"{uri}: the registry has no such version")
        version = str(latest[0].version)
    return str(client.get_model_version_download_uri(ref.name, version))
