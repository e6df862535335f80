"""A thin layer over the official client's `DynamicClient`: discovery, apply, get, list, delete.

Objects are plain dicts as the API server sends them. Kinds are found through
API discovery (`DynamicClient.resources`), and server-side apply is the
dynamic client's `server_side_apply` with `fieldManager=modelship`, the same
request `kubectl apply --server-side --field-manager=modelship` makes.
Every failure of the client comes out as `KubeError` (the server answered
with an error) or `KubeUnreachable` (no answer).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

FIELD_MANAGER = "modelship"

# Short requests: connect within 5 s, answer within 30 s.
REQUEST_TIMEOUT = (5.0, 30.0)
PROBE_TIMEOUT = (5.0, 8.0)


class KubeError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class KubeUnreachable(Exception):
    """No answer from the API server (connection refused, timeout, TLS failure)."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Turn the client's exceptions into `KubeError` / `KubeUnreachable`."""
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    try:
        yield
    except ApiException as err:
        # The client turns TLS failures into a status-0 ApiException.
        if not err.status:
            raise KubeUnreachable(str(err.reason or err)[:300]) from None
        reason, message = _status_fields(err)
        raise KubeError(int(err.status), reason, message) from None
    except ResourceNotFoundError as err:
        raise KubeError(404, "NotFound", str(err)[:300]) from None
    except (urllib3.exceptions.HTTPError, OSError) as err:
        raise KubeUnreachable(_short(err)) from None


class Kube:
    """One cluster, reached through one `ApiClient`; `close` releases both."""

    def __init__(self, api_client: Any) -> None:
        self.api = api_client
        self._dynamic: Any = None
        self._version: dict[str, Any] | None = None
        # Discovery is cached for this client only: a cache shared between runs
        # could describe another server that once listened on the same address.
        self._cache_dir = tempfile.TemporaryDirectory(prefix="modelship-kube-")

    def close(self) -> None:
        self.api.close()
        self._cache_dir.cleanup()

    @property
    def dynamic(self) -> Any:
        """The `DynamicClient`, created (and the server's API groups discovered) on first use."""
        if self._dynamic is None:
            from kubernetes import dynamic

            # Discovery's own requests carry no timeout: a server that does not answer
            # this bounded probe never gets them.
            self.version()

            module: Any = dynamic
            cache = Path(self._cache_dir.name) / "discovery.json"
            with translated_errors():
                self._dynamic = module.DynamicClient(self.api, cache_file=str(cache))
        return self._dynamic

    def resource(self, api_version: str, kind: str) -> Any:
        """The discovered API resource serving `kind` in `api_version`."""
        # The prefix keeps the core group ("v1") from matching every group's v1, which
        # would fetch the resource list of each of them.
        prefix = "apis" if "/" in api_version else "api"
        with translated_errors():
            return self.dynamic.resources.get(prefix=prefix, api_version=api_version, kind=kind)

    # -- requests ----------------------------------------------------------
    def version(self) -> dict[str, Any]:
        """The server's version; the first call of a deploy, so a silent cluster fails it fast."""
        from kubernetes import client

        if self._version is None:
            with translated_errors():
                info = client.VersionApi(self.api).get_code(_request_timeout=PROBE_TIMEOUT)
            self._version = {"gitVersion": str(info.git_version or "")}
        return self._version

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply; modelship takes ownership of the fields it sets (force)."""
        resource = self.resource(manifest["apiVersion"], manifest["kind"])
        meta = manifest["metadata"]
        with translated_errors():
            response = resource.server_side_apply(
                body=manifest,
                name=meta["name"],
                namespace=meta.get("namespace"),
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                serialize=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        return _json_object(response)

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        resource = self.resource(manifest["apiVersion"], manifest["kind"])
        with translated_errors():
            response = resource.create(
                body=manifest,
                namespace=manifest["metadata"].get("namespace"),
                field_manager=FIELD_MANAGER,
                serialize=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        return _json_object(response)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        resource = self.resource(api_version, kind)
        try:
            with translated_errors():
                response = resource.get(
                    name=name,
                    namespace=namespace if resource.namespaced else None,
                    serialize=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
        except KubeError as err:
            if err.status == 404:
                return None
            raise
        return _json_object(response)

    def list(
        self, api_version: str, kind: str, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        resource = self.resource(api_version, kind)
        with translated_errors():
            response = resource.get(
                namespace=namespace,
                label_selector=label_selector,
                serialize=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        items = _json_object(response).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        propagation: str = "Background",
    ) -> bool:
        resource = self.resource(api_version, kind)
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            with translated_errors():
                resource.delete(
                    name=name,
                    namespace=namespace,
                    body=options,
                    serialize=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
        except KubeError as err:
            if err.status == 404:
                return False
            raise
        return True

    def namespace_exists(self, namespace: str) -> bool | None:
        """True/False when the server says; None when we may not read namespaces (a Role)."""
        try:
            return self.get("v1", "Namespace", "", namespace) is not None
        except KubeError as err:
            if err.status in (401, 403):
                return None
            raise

    def proxy(
        self,
        method: str,
        namespace: str,
        service: str,
        port: str,
        path: str,
        body: Any = None,
        content_type: str | None = None,
    ) -> Response:
        """A request to a Service through the API server's proxy; error statuses are answers."""
        from kubernetes.client.exceptions import ApiException

        url = (
            f"/api/v1/namespaces/{quote(namespace, safe='')}/services/"
            f"{quote(service, safe='')}:{quote(port, safe='')}/proxy/{path.lstrip('/')}"
        )
        params: dict[str, Any] = {"header_params": {"Accept": "*/*"}}
        if content_type:
            params["content_type"] = content_type
        with translated_errors():
            try:
                response = self.dynamic.request(
                    method,
                    url,
                    body=body,
                    serialize=False,
                    _request_timeout=REQUEST_TIMEOUT,
                    **params,
                )
            except ApiException as err:
                if not err.status:
                    raise
                return Response(int(err.status), _as_bytes(err.body))
        return Response(int(response.status), response.data or b"")


def _json_object(response: Any) -> dict[str, Any]:
    try:
        loaded = json.loads(response.data or b"{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _as_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode()


def _status_fields(err: Any) -> tuple[str, str]:
    """(reason, message) of the Status object the server sent with an error."""
    reason = str(err.reason or "")
    try:
        loaded = json.loads(err.body) if err.body else {}
    except (TypeError, ValueError):
        return reason, str(err.body or "")[:200]
    if isinstance(loaded, dict) and loaded.get("kind") == "Status":
        return str(loaded.get("reason", "")), str(loaded.get("message", ""))
    # A watch's ERROR event arrives as "Reason: message" without a body.
    head, sep, tail = reason.partition(": ")
    return (head, tail) if sep else ("", reason[:200])


def _short(err: BaseException) -> str:
    text = str(err)
    # urllib3 nests the cause; the last part says what happened.
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" ()")
    return text[:300]


def selector_string(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
