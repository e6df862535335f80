"""Waiting for a Deployment's rollout, and rolling it back.

`wait` watches the Deployment (no polling loop) and decides as
`kubectl rollout status` does: complete when the controller has observed the
latest generation and every replica is updated and available; failed when
the Progressing condition says ProgressDeadlineExceeded; otherwise it waits
until the deadline. `rollback` re-applies the previous ReplicaSet's pod
template, which is what `kubectl rollout undo` does.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from modelship.kube.api import Kube, KubeError, selector_string
from modelship.kube.render import REVISION_ANNOTATION
from modelship.kube.watching import ObjectWatch

State = Literal["complete", "progressing", "failed"]


@dataclass(frozen=True)
class RolloutStatus:
    """Where a Deployment's rollout stands, read from one version of the object."""

    state: State
    message: str


@dataclass(frozen=True)
class RolloutResult:
    """How waiting for a rollout ended."""

    ok: bool
    message: str
    timed_out: bool = False


def revision_of(obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    return str(obj.get("metadata", {}).get("annotations", {}).get(REVISION_ANNOTATION, ""))


def status_of(deployment: dict[str, Any]) -> RolloutStatus:
    meta = deployment.get("metadata", {})
    spec = deployment.get("spec", {})
    status = deployment.get("status", {}) or {}
    name = meta.get("name", "?")
    if int(meta.get("generation", 0)) > int(status.get("observedGeneration", 0)):
        return RolloutStatus("progressing", f"waiting for the controller to observe {name}")
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return RolloutStatus(
                "failed", f"{name} exceeded its progress deadline: {condition.get('message', '')}"
            )
    wanted = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas", 0) or 0)
    replicas = int(status.get("replicas", 0) or 0)
    available = int(status.get("availableReplicas", 0) or 0)
    if updated < wanted:
        return RolloutStatus("progressing", f"{updated} of {wanted} replicas updated")
    if replicas > updated:
        return RolloutStatus(
            "progressing", f"{replicas - updated} old replicas pending termination"
        )
    if available < updated:
        return RolloutStatus("progressing", f"{available} of {updated} updated replicas available")
    return RolloutStatus("complete", f"{updated} of {wanted} replicas updated and available")


def wait(
    kube: Kube,
    namespace: str,
    name: str,
    deadline: float,
    on_progress: Callable[[str], None],
) -> RolloutResult:
    """Watch `name` until its rollout completes, fails, or `deadline` (monotonic) passes."""
    watch = ObjectWatch(
        kube, "apps/v1", "Deployment", namespace, field_selector=f"metadata.name={name}"
    )
    report = _Reporter(on_progress)
    while True:
        current = kube.get("apps/v1", "Deployment", namespace, name)
        if current is None:
            return RolloutResult(False, f"Deployment {name} disappeared")
        status = report(status_of(current))
        if status.state != "progressing":
            return RolloutResult(status.state == "complete", status.message)
        remaining = int(deadline - time.monotonic())
        if remaining <= 0:
            return RolloutResult(False, f"timed out: {status.message}", timed_out=True)
        watch.restart_from(_resource_version(current))
        try:
            for etype, obj in watch.events(remaining):
                if etype == "DELETED":
                    return RolloutResult(False, f"Deployment {name} was deleted")
                status = report(status_of(obj))
                if status.state != "progressing":
                    return RolloutResult(status.state == "complete", status.message)
                if time.monotonic() >= deadline:
                    break
        except KubeError as err:
            if err.status != 410:  # 410 Gone: our resourceVersion is too old; read again
                raise
        finally:
            watch.stop()
        # The watch ended (server timeout or our deadline): read again and decide.


def wait_gone(kube: Kube, namespace: str, name: str, seconds: int) -> bool:
    """Watch until the Deployment is deleted (foreground deletion takes its pods first)."""
    current = kube.get("apps/v1", "Deployment", namespace, name)
    if current is None:
        return True
    watch = ObjectWatch(
        kube, "apps/v1", "Deployment", namespace, field_selector=f"metadata.name={name}"
    )
    watch.restart_from(_resource_version(current))
    try:
        if any(etype == "DELETED" for etype, _obj in watch.events(seconds)):
            return True
    finally:
        watch.stop()
    return kube.get("apps/v1", "Deployment", namespace, name) is None


class _Reporter:
    """Passes each new progress message on once."""

    def __init__(self, on_progress: Callable[[str], None]) -> None:
        self.on_progress = on_progress
        self.last = ""

    def __call__(self, status: RolloutStatus) -> RolloutStatus:
        if status.message != self.last:
            self.on_progress(status.message)
            self.last = status.message
        return status


def _resource_version(obj: dict[str, Any]) -> str | None:
    return str(obj.get("metadata", {}).get("resourceVersion", "")) or None


def replica_sets(kube: Kube, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The ReplicaSets this Deployment controls, oldest revision first."""
    uid = deployment.get("metadata", {}).get("uid")
    labels = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {}) or {}
    namespace = deployment["metadata"]["namespace"]
    owned = [
        rs
        for rs in kube.list("apps/v1", "ReplicaSet", namespace, selector_string(labels))
        if any(
            ref.get("uid") == uid and ref.get("kind") == "Deployment"
            for ref in rs.get("metadata", {}).get("ownerReferences", []) or []
        )
    ]
    return sorted(owned, key=lambda rs: _as_int(revision_of(rs)))


def previous_template(kube: Kube, deployment: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(revision, pod template) of the revision before the current one, if any."""
    current = _as_int(revision_of(deployment))
    older = [rs for rs in replica_sets(kube, deployment) if _as_int(revision_of(rs)) < current]
    if not older:
        return None
    target = older[-1]
    template = copy.deepcopy(target.get("spec", {}).get("template", {}))
    template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return revision_of(target), template


def pod_problems(kube: Kube, deployment: dict[str, Any], limit: int = 3) -> list[str]:
    """Why pods of the Deployment are not ready: waiting reasons, crashes, scheduling."""
    labels = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {}) or {}
    namespace = deployment["metadata"]["namespace"]
    found: list[str] = []
    for pod in kube.list("v1", "Pod", namespace, selector_string(labels)):
        name = pod.get("metadata", {}).get("name", "?")
        status = pod.get("status", {}) or {}
        for container in status.get("containerStatuses") or []:
            state = container.get("state", {}) or {}
            waiting = state.get("waiting") or {}
            if waiting.get("reason") and waiting["reason"] != "ContainerCreating":
                found.append(f"{name}: {waiting['reason']} {waiting.get('message', '')}".strip())
        for condition in status.get("conditions") or []:
            if condition.get("reason") == "Unschedulable":
                found.append(f"{name}: Unschedulable {condition.get('message', '')}".strip())
    unique = list(dict.fromkeys(found))
    return unique[:limit]


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
