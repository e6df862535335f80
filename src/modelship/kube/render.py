"""The manifests modelship generates when the user gives none.

A Deployment running the MLflow scoring server image, a ClusterIP Service in
front of it, and optionally a HorizontalPodAutoscaler. Plain dicts: they are
validated, written by `dry-run`, and applied as they are.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Manifest = dict[str, Any]

# Label and annotation keys modelship writes; `modelship lineage` reads them back.
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
TRACK_LABEL = "modelship.io/track"
COLOR_LABEL = "modelship.io/color"
CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"

LINEAGE_ANNOTATIONS = {
    "git-sha": "modelship.io/git-sha",
    "run-id": "modelship.io/run-id",
    "model-uri": "modelship.io/model-uri",
    "model-version": "modelship.io/model-version",
    "image-digest": "modelship.io/image-digest",
    "ci-run-url": "modelship.io/ci-run-url",
    "environment": "modelship.io/environment",
}

CONTAINER_NAME = "model"
PORT_NAME = "http"
SERVICE_PORT = 80

_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def dns_name(text: str, limit: int = 53) -> str:
    """A DNS-1035 label from free text (`Churn Model_v2` -> `churn-model-v2`).

    53 characters leave room for the `-canary`/`-preview` suffixes and the
    ReplicaSet hash within Kubernetes' 63.
    """
    name = _DNS_LABEL.sub("-", text.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if name and not name[0].isalpha():
        name = "m-" + name
    return name[:limit].rstrip("-")


@dataclass(frozen=True)
class Resources:
    requests_cpu: str = "250m"
    requests_memory: str = "512Mi"
    limits_cpu: str = "1"
    limits_memory: str = "1Gi"

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.requests_cpu, "memory": self.requests_memory},
            "limits": {"cpu": self.limits_cpu, "memory": self.limits_memory},
        }


@dataclass(frozen=True)
class AppSpec:
    name: str
    namespace: str
    image: str
    replicas: int = 2
    container_port: int = 8080
    resources: Resources = field(default_factory=Resources)
    progress_deadline_seconds: int = 300
    autoscale_max: int | None = None
    autoscale_cpu_percent: int = 70
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


def selector_labels(name: str) -> dict[str, str]:
    return {NAME_LABEL: name}


def render(spec: AppSpec) -> list[Manifest]:
    manifests = [deployment(spec), service(spec)]
    if spec.autoscale_max:
        manifests.append(autoscaler(spec))
    return manifests


def _metadata(spec: AppSpec, name: str) -> dict[str, Any]:
    labels = {**spec.labels, **selector_labels(spec.name), MANAGED_BY_LABEL: "modelship"}
    meta: dict[str, Any] = {"name": name, "namespace": spec.namespace, "labels": labels}
    if spec.annotations:
        meta["annotations"] = dict(spec.annotations)
    return meta


def serving_container(spec: AppSpec) -> dict[str, Any]:
    """The scoring server's container: probes on /ping, non-root, read-only root."""
    probe = {"httpGet": {"path": "/ping", "port": PORT_NAME}}
    return {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": PORT_NAME, "containerPort": spec.container_port, "protocol": "TCP"}],
        "env": [
            # The scoring server writes caches under $HOME; the root filesystem is read-only.
            {"name": "HOME", "value": "/tmp"},  # noqa: S108
        ],
        "resources": spec.resources.as_dict(),
        # Model loading can take minutes: the startup probe holds liveness off until /ping answers.
        "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }


def deployment(spec: AppSpec) -> Manifest:
    container = serving_container(spec)
    pod_labels = {**spec.labels, **selector_labels(spec.name)}
    template: dict[str, Any] = {
        "metadata": {"labels": pod_labels},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }
    if spec.annotations:
        template["metadata"]["annotations"] = dict(spec.annotations)
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "selector": {"matchLabels": selector_labels(spec.name)},
            "progressDeadlineSeconds": spec.progress_deadline_seconds,
            "revisionHistoryLimit": 10,
            "strategy": {
                "type": "RollingUpdate",
                # Zero downtime: a new pod must be ready before an old one goes.
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": template,
        },
    }
    if not spec.autoscale_max:
        # With an autoscaler the HPA owns the replica count; applying one would fight it.
        body["spec"]["replicas"] = spec.replicas
    return body


def service(spec: AppSpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec.name),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": SERVICE_PORT,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def autoscaler(spec: AppSpec) -> Manifest:
    assert spec.autoscale_max
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": spec.replicas,
            "maxReplicas": max(spec.autoscale_max, spec.replicas),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": spec.autoscale_cpu_percent,
                        },
                    },
                }
            ],
        },
    }


def with_labels(manifest: Manifest, labels: Mapping[str, str], *, selector: bool) -> Manifest:
    """A copy of a Deployment whose pods (and, with `selector`, selector) carry `labels`."""
    out = copy.deepcopy(manifest)
    spec = out.setdefault("spec", {})
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_meta.setdefault("labels", {}).update(labels)
    if selector:
        spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(labels)
    return out
