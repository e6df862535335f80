"""Tracking URIs: which one a stage uses, the secrets it carries, links into the UI.

Printing a URI goes through `modelship.ci.redact.redact_url`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from modelship.ci.redact import SECRET_ENV, SECRET_QUERY_KEY

DEFAULT_STORE = "mlruns.db"


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
        if SECRET_QUERY_KEY.search(key) and value:
            found.append(value)
    for name in SECRET_ENV:
        if env.get(name):
            found.append(env[name])
    return found


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
