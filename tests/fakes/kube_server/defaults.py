"""Defaulting and validation, as the real API server's registry strategies do them."""

from __future__ import annotations

import re
from typing import Any

from .resources import Resource
from .selectors import label_selector_matches

Cause = tuple[str, str, str]  # (reason, field, message)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


# -- defaults -----------------------------------------------------------------------------


def _probe(probe: dict[str, Any] | None) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")


def _container(c: dict[str, Any]) -> None:
    image = str(c.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    if "@" in image:
        policy = "IfNotPresent"
    elif ":" not in tag or tag.endswith(":latest"):
        policy = "Always"
    else:
        policy = "IfNotPresent"
    c.setdefault("imagePullPolicy", policy)
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(name))
    res = c["resources"]
    if isinstance(res, dict) and res.get("limits") and not res.get("requests"):
        res["requests"] = dict(res["limits"])


def pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                _container(c)


def _template(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    tpl = spec.get("template")
    if isinstance(tpl, dict):
        pod_spec(tpl.setdefault("spec", {}))


def _int_or_percent(value: Any, default: str) -> Any:
    return default if value is None else value


def apply_defaults(res: Resource, obj: dict[str, Any], *, cluster_ip: str = "") -> None:
    kind = res.kind
    meta = obj.setdefault("metadata", {})
    if kind == "Deployment":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru["maxSurge"] = _int_or_percent(ru.get("maxSurge"), "25%")
            ru["maxUnavailable"] = _int_or_percent(ru.get("maxUnavailable"), "25%")
        _template(obj)
    elif kind == "ReplicaSet":
        obj.setdefault("spec", {}).setdefault("replicas", 1)
        _template(obj)
    elif kind == "Job":
        spec = obj.setdefault("spec", {})
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        uid = meta.get("uid", "")
        if not spec.get("manualSelector") and uid:
            tpl = spec.setdefault("template", {})
            labels = tpl.setdefault("metadata", {}).setdefault("labels", {})
            for key, value in (
                ("batch.kubernetes.io/controller-uid", uid),
                ("batch.kubernetes.io/job-name", meta.get("name", "")),
                ("controller-uid", uid),
                ("job-name", meta.get("name", "")),
            ):
                labels.setdefault(key, value)
            spec.setdefault(
                "selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            )
        _template(obj)
    elif kind == "Pod":
        spec = obj.setdefault("spec", {})
        pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault(
            "tolerations",
            [
                {
                    "key": f"node.kubernetes.io/{k}",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
                for k in ("not-ready", "unreachable")
            ],
        )
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            if cluster_ip and not spec.get("clusterIP"):
                spec["clusterIP"] = cluster_ip
            if spec.get("clusterIP"):
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    elif kind == "HorizontalPodAutoscaler":
        spec = obj.setdefault("spec", {})
        spec.setdefault("minReplicas", 1)
        spec.setdefault(
            "metrics",
            [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        )
    elif kind == "Namespace":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")


# -- validation ---------------------------------------------------------------------------


def _name_causes(res: Resource, meta: dict[str, Any]) -> list[Cause]:
    name = meta.get("name") or ""
    causes: list[Cause] = []
    label_like = res.kind in ("Namespace", "Service")
    pattern = _DNS_LABEL if label_like else _DNS_SUBDOMAIN
    limit = 63 if label_like else 253
    if res.kind == "Event":
        return causes
    if not pattern.match(name) or len(name) > limit:
        what = "RFC 1123 label" if label_like else "RFC 1123 subdomain"
        causes.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                "character",
            )
        )
    return causes


def _labels_causes(labels: Any, field: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in (labels or {}).items():
        name = str(key).rsplit("/", 1)[-1]
        if not _QUALIFIED_NAME.match(name) or len(name) > 63:
            causes.append(
                (
                    "FieldValueInvalid",
                    field,
                    f'Invalid value: "{key}": name part must '
                    "consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
        if not isinstance(value, str) or not _LABEL_VALUE.match(value) or len(value) > 63:
            causes.append(
                (
                    "FieldValueInvalid",
                    field,
                    f'Invalid value: "{value}": a valid label '
                    "must be an empty string or consist of alphanumeric characters, '-', "
                    "'_' or '.', and must start and end with an alphanumeric character",
                )
            )
    return causes


def _port_causes(value: Any, field: str) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return []
    return [
        (
            "FieldValueInvalid",
            field,
            f"Invalid value: {value}: must be between 1 and 65535, inclusive",
        )
    ]


def _pod_spec_causes(spec: Any, field: str, *, restart: tuple[str, ...] | None) -> list[Cause]:
    if not isinstance(spec, dict):
        return [("FieldValueRequired", field, "Required value")]
    causes: list[Cause] = []
    containers = spec.get("containers")
    if not containers:
        causes.append(("FieldValueRequired", f"{field}.containers", "Required value"))
    seen: set[str] = set()
    for i, c in enumerate(containers or []):
        cf = f"{field}.containers[{i}]"
        name = c.get("name") if isinstance(c, dict) else None
        if not name:
            causes.append(("FieldValueRequired", f"{cf}.name", "Required value"))
        elif not _DNS_LABEL.match(name) or len(name) > 63:
            causes.append(
                (
                    "FieldValueInvalid",
                    f"{cf}.name",
                    f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of '
                    "lower case alphanumeric characters or '-'",
                )
            )
        elif name in seen:
            causes.append(("FieldValueDuplicate", f"{cf}.name", f'Duplicate value: "{name}"'))
        else:
            seen.add(name)
        if isinstance(c, dict) and not c.get("image"):
            causes.append(("FieldValueRequired", f"{cf}.image", "Required value"))
        for j, port in enumerate((c.get("ports") if isinstance(c, dict) else None) or []):
            causes += _port_causes(port.get("containerPort"), f"{cf}.ports[{j}].containerPort")
    policy = spec.get("restartPolicy")
    if restart is not None and policy not in restart:
        allowed = ", ".join(f'"{r}"' for r in restart)
        causes.append(
            (
                "FieldValueNotSupported",
                f"{field}.restartPolicy",
                f'Unsupported value: "{policy}": supported values: {allowed}',
            )
        )
    return causes


def _selector_causes(spec: dict[str, Any], field: str) -> list[Cause]:
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [("FieldValueRequired", f"{field}.selector", "Required value")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not label_selector_matches(selector, labels):
        return [
            (
                "FieldValueInvalid",
                f"{field}.template.metadata.labels",
                f"Invalid value: {labels!r}: `selector` does not match template `labels`",
            )
        ]
    return []


def validate(res: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    meta = obj.get("metadata") or {}
    causes = _name_causes(res, meta)
    causes += _labels_causes(meta.get("labels"), "metadata.labels")
    spec = obj.get("spec") or {}
    kind = res.kind
    if kind in ("Deployment", "ReplicaSet"):
        causes += _selector_causes(spec, "spec")
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.replicas",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            )
        tpl = spec.get("template") or {}
        causes += _labels_causes(
            (tpl.get("metadata") or {}).get("labels"), "spec.template.metadata.labels"
        )
        causes += _pod_spec_causes(tpl.get("spec"), "spec.template.spec", restart=("Always",))
        if old is not None and old.get("spec", {}).get("selector") != spec.get("selector"):
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.selector",
                    f"Invalid value: {spec.get('selector')!r}: field is immutable",
                )
            )
        if kind == "Deployment":
            pds = spec.get("progressDeadlineSeconds")
            if isinstance(pds, int) and pds <= (spec.get("minReadySeconds") or 0):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "spec.progressDeadlineSeconds",
                        f"Invalid value: {pds}: must be greater than minReadySeconds",
                    )
                )
            strategy = spec.get("strategy") or {}
            if strategy.get("type") not in ("RollingUpdate", "Recreate"):
                causes.append(
                    (
                        "FieldValueNotSupported",
                        "spec.strategy.type",
                        f'Unsupported value: "{strategy.get("type")}": '
                        'supported values: "Recreate", "RollingUpdate"',
                    )
                )
    elif kind == "Job":
        tpl = spec.get("template") or {}
        causes += _pod_spec_causes(
            tpl.get("spec"), "spec.template.spec", restart=("OnFailure", "Never")
        )
        if old is not None and old.get("spec", {}).get("template") != spec.get("template"):
            causes.append(
                ("FieldValueInvalid", "spec.template", "Invalid value: field is immutable")
            )
    elif kind == "Pod":
        causes += _pod_spec_causes(spec, "spec", restart=("Always", "OnFailure", "Never"))
        if old is not None:
            old_images = [c.get("image") for c in old.get("spec", {}).get("containers", [])]
            new_names = [c.get("name") for c in spec.get("containers", [])]
            old_names = [c.get("name") for c in old.get("spec", {}).get("containers", [])]
            if new_names != old_names or len(old_images) != len(new_names):
                causes.append(
                    (
                        "FieldValueForbidden",
                        "spec",
                        "Forbidden: pod updates may not change fields other than "
                        "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                        "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions "
                        "to existing tolerations), `spec.terminationGracePeriodSeconds`",
                    )
                )
    elif kind == "Service":
        stype = spec.get("type")
        if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            causes.append(
                (
                    "FieldValueNotSupported",
                    "spec.type",
                    f'Unsupported value: "{stype}": supported values: '
                    '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
                )
            )
        ports = spec.get("ports") or []
        if not ports and spec.get("clusterIP") != "None" and stype != "ExternalName":
            causes.append(("FieldValueRequired", "spec.ports", "Required value"))
        names: set[str] = set()
        for i, port in enumerate(ports):
            causes += _port_causes(port.get("port"), f"spec.ports[{i}].port")
            if len(ports) > 1 and not port.get("name"):
                causes.append(("FieldValueRequired", f"spec.ports[{i}].name", "Required value"))
            if port.get("name") in names:
                causes.append(
                    (
                        "FieldValueDuplicate",
                        f"spec.ports[{i}].name",
                        f'Duplicate value: "{port.get("name")}"',
                    )
                )
            names.add(port.get("name") or "")
        causes += _labels_causes(spec.get("selector"), "spec.selector")
        if old is not None:
            old_ip = old.get("spec", {}).get("clusterIP")
            if old_ip and spec.get("clusterIP") not in (old_ip, None, ""):
                causes.append(
                    ("FieldValueInvalid", "spec.clusterIPs[0]", "Invalid value: field is immutable")
                )
    elif kind == "HorizontalPodAutoscaler":
        ref = spec.get("scaleTargetRef") or {}
        if not ref.get("kind"):
            causes.append(("FieldValueRequired", "spec.scaleTargetRef.kind", "Required value"))
        if not ref.get("name"):
            causes.append(("FieldValueRequired", "spec.scaleTargetRef.name", "Required value"))
        max_r, min_r = spec.get("maxReplicas"), spec.get("minReplicas", 1)
        if not isinstance(max_r, int) or max_r < 1:
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.maxReplicas",
                    f"Invalid value: {max_r}: must be greater than or equal to 1",
                )
            )
        elif isinstance(min_r, int) and min_r > max_r:
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.maxReplicas",
                    f"Invalid value: {max_r}: must be greater than or equal to `minReplicas`",
                )
            )
    return causes
