"""A thin layer over the official client: server-side apply, get, list, delete, watch.

Objects are plain dicts as the API server sends them. Server-side apply is a
`PATCH` with `application/apply-patch+yaml` and `fieldManager=modelship`, the
same request `kubectl apply --server-side --field-manager=modelship` makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

FIELD_MANAGER = "modelship"

# Short requests: connect within 5 s, answer within 30 s.
REQUEST_TIMEOUT = (5.0, 30.0)
PROBE_TIMEOUT = (5.0, 8.0)

# kind -> (plural, namespaced) for the kinds a deploy usually holds; others
# are found through API discovery.
_KNOWN: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Service"): ("services", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "Namespace"): ("namespaces", False),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
}


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
    content_type: str


class Kube:
    def __init__(self, api_client: Any) -> None:
        self.api = api_client
        self._discovered: dict[str, dict[str, tuple[str, bool]]] = {}

    # -- raw requests ------------------------------------------------------
    def raw(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
        timeout: Any = REQUEST_TIMEOUT,
    ) -> Response:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        request = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(*request, _request_timeout=timeout)
            response.read()
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise KubeUnreachable(_short(err)) from None
        except ApiException as err:
            # The client turns TLS failures into a status-0 ApiException.
            if not err.status:
                raise KubeUnreachable(str(err.reason or err)[:300]) from None
            raise
        data = response.data or b""
        ctype = response.getheader("content-type") or ""
        return Response(response.status, data, ctype)

    def request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: Any = REQUEST_TIMEOUT,
    ) -> dict[str, Any]:
        response = self.raw(method, path, query, body, content_type, timeout=timeout)
        try:
            loaded = json.loads(response.body) if response.body else {}
        except ValueError:
            loaded = {}
        if not 200 <= response.status <= 299:
            if isinstance(loaded, dict) and loaded.get("kind") == "Status":
                raise KubeError(
                    response.status, str(loaded.get("reason", "")), str(loaded.get("message", ""))
                )
            raise KubeError(response.status, "", response.body[:200].decode("utf-8", "replace"))
        return loaded if isinstance(loaded, dict) else {}

    # -- resources ---------------------------------------------------------
    def version(self) -> dict[str, Any]:
        # The first call of a deploy: a cluster that does not answer fails it fast.
        return self.request("GET", "/version", timeout=PROBE_TIMEOUT)

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        known = _KNOWN.get((api_version, kind))
        if known:
            return known
        if api_version not in self._discovered:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = self.request("GET", base)
            self._discovered[api_version] = {
                str(r["kind"]): (str(r["name"]), bool(r.get("namespaced")))
                for r in listing.get("resources", [])
                if "/" not in str(r.get("name", ""))
            }
        found = self._discovered[api_version].get(kind)
        if found is None:
            raise KubeError(404, "NotFound", f"the server does not serve {kind} in {api_version}")
        return found

    def path(
        self, api_version: str, kind: str, namespace: str | None, name: str | None = None
    ) -> str:
        plural, namespaced = self._resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply; modelship takes ownership of the fields it sets (force)."""
        meta = manifest["metadata"]
        path = self.path(
            manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"]
        )
        return self.request(
            "PATCH",
            path,
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=manifest,
            content_type="application/apply-patch+yaml",
        )

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", self.path(api_version, kind, namespace, name))
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    def list(
        self, api_version: str, kind: str, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = [("labelSelector", label_selector)] if label_selector else []
        listing = self.request("GET", self.path(api_version, kind, namespace), query=query)
        items = listing.get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        propagation: str = "Background",
    ) -> bool:
        try:
            self.request(
                "DELETE",
                self.path(api_version, kind, namespace, name),
                body={
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "propagationPolicy": propagation,
                },
                content_type="application/json",
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

    def watch_deployment(
        self, namespace: str, name: str, resource_version: str | None, seconds: int
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, Deployment) as the server changes it, for at most `seconds`."""
        from kubernetes import client
        from kubernetes import watch as _watch

        watch: Any = _watch

        apps = client.AppsV1Api(self.api)
        watcher = watch.Watch(return_type="object")
        kwargs: dict[str, Any] = {
            "field_selector": f"metadata.name={name}",
            "timeout_seconds": max(1, seconds),
            "_request_timeout": (REQUEST_TIMEOUT[0], seconds + 10),
        }
        if resource_version:
            kwargs["resource_version"] = resource_version
        try:
            for event in watcher.stream(apps.list_namespaced_deployment, namespace, **kwargs):
                if event.get("type") == "ERROR":
                    obj = event.get("raw_object") or {}
                    raise KubeError(
                        int(obj.get("code", 500)),
                        str(obj.get("reason", "")),
                        str(obj.get("message", "")),
                    )
                raw = event.get("raw_object")
                if isinstance(raw, dict) and event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                    yield str(event["type"]), raw
        except client.ApiException as err:
            raise KubeError(
                int(err.status or 0), str(err.reason or ""), _status_message(err.body)
            ) from None
        except Exception as err:
            import urllib3

            if isinstance(err, (urllib3.exceptions.HTTPError, OSError)):
                raise KubeUnreachable(_short(err)) from None
            raise
        finally:
            watcher.stop()

    def wait_deployment_gone(self, namespace: str, name: str, seconds: int) -> bool:
        """Watch until the Deployment is deleted (foreground deletion takes its pods first)."""
        current = self.get("apps/v1", "Deployment", namespace, name)
        if current is None:
            return True
        version = str(current.get("metadata", {}).get("resourceVersion", "")) or None
        for etype, _obj in self.watch_deployment(namespace, name, version, seconds):
            if etype == "DELETED":
                return True
        return self.get("apps/v1", "Deployment", namespace, name) is None

    def proxy_path(self, namespace: str, service: str, port: str, path: str) -> str:
        return (
            f"/api/v1/namespaces/{quote(namespace, safe='')}/services/"
            f"{quote(service, safe='')}:{quote(port, safe='')}/proxy/{path.lstrip('/')}"
        )


def _status_message(body: Any) -> str:
    try:
        loaded = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return str(body)[:200]
    return str(loaded.get("message", "")) if isinstance(loaded, dict) else str(body)[:200]


def _short(err: BaseException) -> str:
    text = str(err)
    # urllib3 nests the cause; the last part says what happened.
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" ()")
    return text[:300]


def selector_string(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def query_string(params: dict[str, str]) -> str:
    return urlencode(params)
