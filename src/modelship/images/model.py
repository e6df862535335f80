"""Fetch an MLflow model and the lineage MLflow recorded for it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.ci.errors import ExternalError, UsageError
from modelship.ci.redact import redact_url
from modelship.tracking import lineage
from modelship.tracking.client import open_client
from modelship.tracking.models import ModelRef, model_files, parse_model_uri
from modelship.tracking.uris import authenticated_uri

# Run tags that carry lineage, as the train and register stages write them.
LINEAGE_TAGS = {
    "git-sha": (lineage.GIT_SHA, "mlflow.source.git.commit"),
    "branch": (lineage.BRANCH, "mlflow.source.git.branch"),
    "data-version": (lineage.DATA_VERSION,),
    "ci-run-url": (lineage.CI_RUN_URL,),
    "repository": ("mlflow.source.git.repoURL",),
}


@dataclass
class ModelInfo:
    """A downloaded model and where it came from."""

    uri: str
    path: Path
    run_id: str = ""
    name: str = ""
    version: str = ""
    python_version: str = ""
    mlflow_version: str = ""
    lineage: dict[str, str] = field(default_factory=dict)
    lineage_error: str = ""

    @property
    def python_minor(self) -> str:
        """`3.11` from `3.11.7`; empty when MLflow did not record it."""
        parts = self.python_version.split(".")
        return ".".join(parts[:2]) if len(parts) >= 2 else ""


def _is_missing(err: Exception) -> bool:
    code = str(getattr(err, "error_code", ""))
    text = str(err).lower()
    return (
        "RESOURCE_DOES_NOT_EXIST" in code
        or "INVALID_PARAMETER_VALUE" in code
        or "not found" in text
        or "does not exist" in text
        or "no such file" in text
        or "not a valid" in text
    )


def _is_unreachable(err: Exception) -> bool:
    text = str(err).lower()
    return any(
        marker in text
        for marker in ("connection refused", "max retries", "failed to establish", "timed out")
    )


def fetch(
    uri: str,
    dest: Path,
    tracking_uri: str,
    env: Mapping[str, str],
    registry_uri: str | None = None,
) -> ModelInfo:
    """Download the model at `uri` into `dest` and read its MLflow metadata.

    Accepts `runs:/<run-id>/<path>` and every `models:/` form (version, alias,
    logged-model id, legacy stage).
    """
    ref = parse_model_uri(uri)
    client = open_client(tracking_uri, env, registry_uri)  # fails fast when the server is down
    from mlflow.exceptions import MlflowException

    shown = redact_url(tracking_uri)
    info = _read_model(uri, _download(client, ref, dest, tracking_uri, env, registry_uri))
    try:
        _resolve_lineage(info, ref, client)
    except MlflowException as err:
        if _is_unreachable(err):
            raise ExternalError(
                f"the MLflow tracking server at {shown} did not answer: {_first_line(err)}"
            ) from None
        # The model downloaded; lineage that cannot be read is a gap, said in the log.
        info.lineage_error = _first_line(err)
    return info


def _download(
    client: Any,
    ref: ModelRef,
    dest: Path,
    tracking_uri: str,
    env: Mapping[str, str],
    registry_uri: str | None,
) -> Path:
    """The model's folder: located through `client`, downloaded with the job's credentials."""
    import mlflow
    from mlflow.exceptions import MlflowException

    shown = redact_url(tracking_uri)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        # MLflow draws a download progress bar on stderr; a CI log needs none.
        location = model_files(client, ref.uri)
        with contextlib.redirect_stderr(io.StringIO()):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=location,
                dst_path=str(dest),
                tracking_uri=authenticated_uri(tracking_uri, env),
                registry_uri=authenticated_uri(registry_uri or tracking_uri, env),
            )
    except (MlflowException, OSError, ValueError) as err:
        if _is_unreachable(err):
            raise ExternalError(
                f"the MLflow tracking server at {shown} did not answer for {ref.uri}: "
                f"{_first_line(err)}",
                "check MLFLOW_TRACKING_URI (or tracking-uri) and that the server is up",
            ) from None
        raise UsageError(
            f"model URI {ref.uri} does not resolve on {shown}: {_first_line(err)}",
            "pass a runs:/<run-id>/<path> or models:/<name>/<version> URI that exists",
        ) from None
    path = Path(local)
    return path.parent if path.is_file() else path


def _read_model(uri: str, path: Path) -> ModelInfo:
    """What the build needs from the model's MLmodel and python_env.yaml files."""
    mlmodel = path / "MLmodel"
    if not mlmodel.is_file():
        raise UsageError(
            f"{uri} is not an MLflow model: it has no MLmodel file",
            "point model-uri at the folder log_model wrote, e.g. runs:/<run-id>/model",
        )
    meta = _read_yaml(mlmodel)
    info = ModelInfo(uri=uri, path=path)
    info.run_id = str(meta.get("run_id") or "")
    info.mlflow_version = str(meta.get("mlflow_version") or "")
    flavors = meta.get("flavors")
    pyfunc = flavors.get("python_function") if isinstance(flavors, dict) else None
    if not isinstance(pyfunc, dict):
        raise UsageError(
            f"{uri} has no python_function flavor, so MLflow's scoring server cannot serve it",
            "log the model with an MLflow flavor that supports pyfunc",
        )
    info.python_version = str(pyfunc.get("python_version") or "")
    env_file = path / "python_env.yaml"
    if env_file.is_file():
        info.python_version = str(_read_yaml(env_file).get("python") or info.python_version)
    return info


def _resolve_lineage(info: ModelInfo, ref: ModelRef, client: Any) -> None:
    """Model name/version from the registry, lineage from the run and version tags."""
    version_tags: dict[str, str] = {}
    if ref.is_registered:
        if ref.kind == "alias":
            mv = client.get_model_version_by_alias(ref.name, ref.alias)
        elif ref.kind == "version" and ref.version != "latest":
            mv = client.get_model_version(ref.name, ref.version)
        else:
            stages = [ref.stage] if ref.kind == "stage" else None
            found = client.get_latest_versions(ref.name, stages=stages)
            mv = found[0] if found else None
        if mv is not None:
            info.name, info.version = str(mv.name), str(mv.version)
            info.run_id = str(mv.run_id or "") or info.run_id
            version_tags = {str(k): str(v) for k, v in (mv.tags or {}).items()}
    elif ref.kind == "logged":
        model = client.get_logged_model(ref.model_id)
        info.run_id = info.run_id or str(model.source_run_id or "")
    elif ref.kind == "run":
        info.run_id = info.run_id or ref.run_id
    run_tags: dict[str, str] = {}
    if info.run_id:
        run_tags = {str(k): str(v) for k, v in client.get_run(info.run_id).data.tags.items()}
    tags = {**run_tags, **version_tags}
    for key, names in LINEAGE_TAGS.items():
        for tag in names:
            if tags.get(tag):
                info.lineage[key] = tags[tag]
                break


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise UsageError(f"cannot read {path.name} of the model: {err}") from None
    return loaded if isinstance(loaded, dict) else {}


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__
