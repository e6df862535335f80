"""Watching objects and following pod logs, all through `kubernetes.watch.Watch`.

Rollouts watch a Deployment, training Jobs watch their Job and its pods and
follow the pods' logs: each is one `ObjectWatch` (or `follow_log`) here, so
there is one place that knows how a watch starts, resumes, ends and fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from modelship.kube.api import REQUEST_TIMEOUT, Kube, translated_errors

CHANGES = ("ADDED", "MODIFIED", "DELETED")
# A pod log stays open while the training runs: days, not seconds.
LOG_READ_TIMEOUT = 24 * 3600.0


def new_watch() -> Any:
    """A `kubernetes.watch.Watch` (the module has no type hints, hence `Any`)."""
    from kubernetes import watch

    module: Any = watch
    return module.Watch()


class ObjectWatch:
    """Watch events of one kind in one namespace, narrowed by selectors.

    `events` runs one watch request (the server closes it after `seconds`) and
    remembers the last resourceVersion it saw, bookmarks included, so the next
    call resumes where this one ended. `stop` may be called from another thread.
    """

    def __init__(
        self,
        kube: Kube,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
    ) -> None:
        self.kube = kube
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.field_selector = field_selector
        self.label_selector = label_selector
        self.resource_version: str | None = None
        self._watch = new_watch()

    def events(
        self, seconds: float, bookmarks: bool = False
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, object) for ADDED, MODIFIED and DELETED, for at most `seconds`.

        A resourceVersion the server no longer holds raises `KubeError` 410:
        read the object again and `restart_from` its version.
        """
        resource = self.kube.resource(self.api_version, self.kind)
        wait = max(1, int(seconds))
        kwargs: dict[str, Any] = {
            "namespace": self.namespace,
            "serialize": False,
            "timeout_seconds": wait,
            "_request_timeout": (REQUEST_TIMEOUT[0], wait + 10),
        }
        if self.field_selector:
            kwargs["field_selector"] = self.field_selector
        if self.label_selector:
            kwargs["label_selector"] = self.label_selector
        if self.resource_version:
            kwargs["resource_version"] = self.resource_version
        if bookmarks:
            kwargs["allow_watch_bookmarks"] = True
        with translated_errors():
            for event in self._watch.stream(resource.get, **kwargs):
                etype = str(event.get("type", ""))
                obj = event.get("raw_object")
                if not isinstance(obj, dict):
                    continue
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if version:
                    self.resource_version = str(version)
                if etype in CHANGES:
                    yield etype, obj

    def restart_from(self, resource_version: str | None) -> None:
        self.resource_version = resource_version or None

    def stop(self) -> None:
        self._watch.stop()


def follow_log(
    kube: Kube, namespace: str, pod: str, container: str, watcher: Any = None
) -> Iterator[str]:
    """The lines a pod's container writes, as it writes them, until it ends.

    `watcher` (a `kubernetes.watch.Watch`) lets another thread stop the stream.
    """
    from kubernetes import client

    core = client.CoreV1Api(kube.api)
    with translated_errors():
        yield from (watcher or new_watch()).stream(
            core.read_namespaced_pod_log,
            name=pod,
            namespace=namespace,
            container=container,
            _request_timeout=(REQUEST_TIMEOUT[0], LOG_READ_TIMEOUT),
        )
