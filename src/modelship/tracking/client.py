"""The one place an `MlflowClient` is made: from explicit URIs, never from MLflow's globals.

MLflow reads its HTTP settings (retries, timeouts, credentials) from the
environment of the process, which a stage leaves as it found it. MLflow's own
retries of a server that is not there last minutes, so before a client for an
http(s) server is handed out, the server is checked to accept connections: a
CI job with a wrong URI fails within seconds and says why (exit 3). Users who
want MLflow's retries bounded too set `MLFLOW_HTTP_REQUEST_MAX_RETRIES` and
`MLFLOW_HTTP_REQUEST_TIMEOUT` in the job.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from modelship.ci.errors import ExternalError, ModelshipError, UsageError
from modelship.ci.redact import redact_url
from modelship.tracking.uris import authenticated_uri, is_http

if TYPE_CHECKING:
    from mlflow import MlflowClient

T = TypeVar("T")

# A dead host costs at most ATTEMPTS * CONNECT_TIMEOUT plus the pauses between attempts.
CONNECT_TIMEOUT = 5.0
ATTEMPTS = 3
PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")


def open_client(
    tracking_uri: str, env: Mapping[str, str], registry_uri: str | None = None
) -> MlflowClient:
    """An `MlflowClient` bound to these URIs (imports MLflow).

    The registry URI defaults to the tracking URI. `env` is the job's
    environment: its proxy settings, and the MLflow credentials the client
    sends (`MLFLOW_TRACKING_USERNAME`/`PASSWORD`, see `authenticated_uri`).
    """
    if is_http(tracking_uri):
        check_reachable(tracking_uri, env)
    from mlflow import MlflowClient

    return MlflowClient(
        tracking_uri=authenticated_uri(tracking_uri, env),
        registry_uri=authenticated_uri(registry_uri or tracking_uri, env),
    )


# MLflow's error codes for HTTP 401 and 403.
REFUSED = ("UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED", "PERMISSION_DENIED")


def refusal_hint(err: BaseException) -> str | None:
    """What to check when the tracking server refused the credentials or the permission."""
    if getattr(err, "error_code", "") not in REFUSED:
        return None
    return (
        "the MLflow server refused the credentials or the permission: check "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) "
        "and the user's permissions"
    )


def check_reachable(uri: str, env: Mapping[str, str]) -> None:
    """Raise `ExternalError` (exit 3) unless the http(s) server accepts a connection.

    Behind a proxy the server is not reached directly, so the check is left to MLflow.
    """
    if any(env.get(name) or env.get(name.upper()) for name in PROXY_VARIABLES):
        return
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as err:
        raise UsageError(f"the tracking URI {redact_url(uri)} is not a URL: {err}") from None
    last: OSError | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(attempt)
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
                return
        except OSError as err:
            last = err
    raise ExternalError(
        f"cannot reach the MLflow tracking server at {redact_url(uri)}: "
        f"{_reason(last)} ({ATTEMPTS} attempts)",
        "check the tracking-uri input or MLFLOW_TRACKING_URI, and that the server is up",
    )


def guarded(action: Callable[[], T], shown_uri: str) -> T:
    """Run MLflow calls; an MLflow or network failure becomes an ExternalError (exit 3)."""
    try:
        return action()
    except ModelshipError:
        raise
    except Exception as err:
        from mlflow.exceptions import MlflowException

        if isinstance(err, (MlflowException, OSError)):
            first = (str(err).splitlines() or [type(err).__name__])[0][:300]
            raise ExternalError(
                f"MLflow tracking store {shown_uri} failed: {first}",
                refusal_hint(err) or "check the tracking-uri input or MLFLOW_TRACKING_URI",
            ) from None
        raise


def _reason(err: OSError | None) -> str:
    if err is None:
        return "no answer"
    if isinstance(err, socket.gaierror):
        return f"unknown host ({err.strerror or err})"
    if isinstance(err, TimeoutError):
        return f"timed out after {CONNECT_TIMEOUT:g}s"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return str(err.strerror or err)[:200]
