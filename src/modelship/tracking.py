"""MLflow helpers every stage shares: tracking URI, model URIs, lineage tags.

Nothing here imports MLflow at module level: `client()` does, when a stage
actually needs an `MlflowClient`. The functions are small on purpose; other
stages (evaluate, register, build, promote, lineage) import them.

* `resolve_tracking_uri` - the input, else `$MLFLOW_TRACKING_URI`, else an
  embedded SQLite store `mlruns.db` in the workspace (local artifacts).
* `redact_uri` - a URI safe to print: no password, no token in the query.
* `parse_model_uri` - `runs:/<run-id>/<path>` and every `models:/` form.
* `lineage_tags` - the run tags that record which code and data made a model.
* `authenticated_uri` - the URI a stage's own MLflow clients use, carrying the
  credentials of the stage's environment.
* `client` - an `MlflowClient` with bounded retries.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from modelship import __version__, lineage
from modelship.ci.errors import UsageError

if TYPE_CHECKING:
    from modelship.ci.platform import Platform

DEFAULT_STORE = "mlruns.db"
# Query parameters that carry credentials in some tracking or artifact URIs.
_SECRET_QUERY = re.compile(r"(token|secret|password|passwd|key|sig|signature|credential)", re.I)


# -- tracking URI ------------------------------------------------------------


def resolve_tracking_uri(given: str | None, env: Mapping[str, str], workspace: Path) -> str:
    """The tracking URI a stage uses, and hands on to the training process.

    Order: the `tracking-uri` input, `$MLFLOW_TRACKING_URI`, then
    `sqlite:///<workspace>/mlruns.db`. Relative SQLite and file paths are made
    absolute against the workspace, so a training process started in another
    folder, and the next job, find the same store.
    """
    uri = (given or env.get("MLFLOW_TRACKING_URI") or "").strip()
    if not uri:
        return f"sqlite:///{(workspace / DEFAULT_STORE).resolve()}"
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        path = uri[len("sqlite:///") :]
        if path and path != ":memory:":
            return f"sqlite:///{(workspace / path).resolve()}"
        return uri
    if uri.startswith("file:") and not uri.startswith("file:/"):
        return (workspace / uri[len("file:") :]).resolve().as_uri()
    if "://" not in uri and not uri.startswith(("databricks", "sqlite:")):
        # A bare path, as MLflow accepts for a file store.
        return (workspace / uri).resolve().as_uri()
    return uri


def is_http(uri: str) -> bool:
    return uri.lower().startswith(("http://", "https://"))


def redact_uri(uri: str) -> str:
    """The URI with any password (and credential-like query values) replaced by `***`.

    `https://user:s3cret@host/x?token=abc` -> `https://user:***@host/x?token=***`.
    """
    try:
        parts = urlsplit(uri)
        password = parts.password
    except ValueError:
        return "(unparseable URI)"
    shown = uri
    if password is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        user = userinfo.partition(":")[0]
        shown = shown.replace(f"{userinfo}@", f"{user}:***@", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(_SECRET_QUERY.search(k) for k, _ in pairs):
            query = urlencode(
                [(k, "***" if _SECRET_QUERY.search(k) else v) for k, v in pairs], safe="*"
            )
            shown = shown.replace(f"?{parts.query}", f"?{query}", 1)
    return shown


def uri_secrets(uri: str, env: Mapping[str, str]) -> list[str]:
    """Secrets a stage must mask before it prints anything about the tracking server."""
    found: list[str] = []
    try:
        parts = urlsplit(uri)
    except ValueError:
        return found
    if parts.password:
        found.append(parts.password)
    for key, value in parse_qsl(parts.query):
        if _SECRET_QUERY.search(key) and value:
            found.append(value)
    for name in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        if env.get(name):
            found.append(env[name])
    return found


def authenticated_uri(uri: str, env: Mapping[str, str]) -> str:
    """The http(s) URI with `MLFLOW_TRACKING_USERNAME`/`PASSWORD` of `env` as its user-info.

    MLflow's clients read those variables from the process environment only,
    and a stage gets its environment injected (it never writes `os.environ`).
    MLflow hands the URI to `requests`, which sends user-info as HTTP basic
    auth, so the stage's credentials reach every client call and artifact
    download made with this URI. For the stage's MLflow clients only: what a
    stage prints, publishes or passes to the training is the URI as given.
    """
    user = env.get("MLFLOW_TRACKING_USERNAME", "")
    if not user or not is_http(uri):
        return uri
    try:
        parts = urlsplit(uri)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return uri
    password = env.get("MLFLOW_TRACKING_PASSWORD", "")
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


# MLflow's error codes for HTTP 401 and 403.
_REFUSED = ("UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED", "PERMISSION_DENIED")


def refusal_hint(err: BaseException) -> str | None:
    """What to check when the tracking server refused the credentials or the permission."""
    if getattr(err, "error_code", "") not in _REFUSED:
        return None
    return (
        "the MLflow server refused the credentials or the permission: check "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) "
        "and the user's permissions"
    )


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """Link to the run in the tracking UI; empty unless the URI is http(s).

    Credentials in the URI never reach the link.
    """
    if not is_http(tracking_uri):
        return ""
    parts = urlsplit(tracking_uri)
    host = parts.netloc.rpartition("@")[2]
    base = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    return f"{base}/#/experiments/{quote(experiment_id)}/runs/{quote(run_id)}"


# -- model URIs --------------------------------------------------------------

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


def model_run_id(client: Any, ref: ModelRef) -> str:
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
    return str(model.source_run_id or (model.tags or {}).get(lineage.RUN_ID) or "")


# -- lineage -----------------------------------------------------------------


def lineage_tags(
    platform: Platform, sha: str, branch: str, data_version: str | None
) -> dict[str, str]:
    """The lineage tags of a training run (keys from `modelship.lineage`).

    MLflow's own git tags are set too, so the tracking UI shows the commit.
    Empty values are left out rather than written as empty tags.
    """
    tags = {
        lineage.GIT_SHA: sha,
        lineage.BRANCH: branch,
        lineage.CI_PLATFORM: platform.name,
        lineage.CI_RUN_URL: platform.run_url,
        lineage.DATA_VERSION: data_version or "",
        lineage.VERSION: __version__,
        "mlflow.source.git.commit": sha,
        "mlflow.source.git.branch": branch,
        "mlflow.source.git.repoURL": platform.repository_url,
    }
    return {key: value for key, value in tags.items() if value}


# -- client ------------------------------------------------------------------

# MLflow's own defaults retry an unreachable server for minutes; a CI job
# should fail fast and say why. Users can still set these themselves.
BOUNDED_RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def client(tracking_uri: str, registry_uri: str | None = None) -> Any:
    """An `MlflowClient` for the URI, with bounded HTTP retries (imports MLflow)."""
    for name, value in BOUNDED_RETRIES.items():
        os.environ.setdefault(name, value)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)
