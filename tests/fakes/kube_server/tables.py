"""Server-side printing (`Accept: application/json;as=Table;...`), which kubectl get asks for."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from .resources import Resource
from .selectors import selector_string

Obj = dict[str, Any]


def _age(obj: Obj) -> str:
    stamp = obj.get("metadata", {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    secs = int(time.time() - calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    secs = max(secs, 0)
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = mins // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _seconds(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def _duration(job: Obj) -> str:
    status = job.get("status", {})
    if not status.get("startTime"):
        return ""
    end = _seconds(status["completionTime"]) if status.get("completionTime") else int(time.time())
    secs = max(0, end - _seconds(status["startTime"]))
    return f"{secs}s" if secs < 120 else f"{secs // 60}m{secs % 60}s"


def _containers(obj: Obj) -> tuple[str, str]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if "template" in spec else spec
    cs = pod.get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _pod_status(pod: Obj) -> str:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase", "Pending")
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state", {})
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason") and reason not in ("Running",):
            reason = state["terminated"]["reason"]
    if reason == "Pending" and any(
        c.get("reason") == "Unschedulable" for c in status.get("conditions") or []
    ):
        return "Pending"
    return str(reason)


def _ports(svc: Obj) -> str:
    out = []
    for p in svc.get("spec", {}).get("ports") or []:
        text = f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort"):
            text = f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        out.append(text)
    return ",".join(out) or "<none>"


def _job_status(job: Obj) -> str:
    for c in job.get("status", {}).get("conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
            return str(c["type"])
    if job.get("spec", {}).get("suspend"):
        return "Suspended"
    return "Running"


Column = tuple[str, str, int, Callable[[Obj], Any]]

_COLUMNS: dict[str, list[Column]] = {
    "Deployment": [
        (
            "Ready",
            "string",
            0,
            lambda o: (
                f"{o.get('status', {}).get('readyReplicas', 0)}/{o['spec'].get('replicas', 0)}"
            ),
        ),
        ("Up-to-date", "integer", 0, lambda o: o.get("status", {}).get("updatedReplicas", 0)),
        ("Available", "integer", 0, lambda o: o.get("status", {}).get("availableReplicas", 0)),
        ("Age", "string", 0, _age),
        ("Containers", "string", 1, lambda o: _containers(o)[0]),
        ("Images", "string", 1, lambda o: _containers(o)[1]),
        ("Selector", "string", 1, lambda o: selector_string(o["spec"].get("selector"))),
    ],
    "ReplicaSet": [
        ("Desired", "integer", 0, lambda o: o["spec"].get("replicas", 0)),
        ("Current", "integer", 0, lambda o: o.get("status", {}).get("replicas", 0)),
        ("Ready", "integer", 0, lambda o: o.get("status", {}).get("readyReplicas", 0)),
        ("Age", "string", 0, _age),
        ("Containers", "string", 1, lambda o: _containers(o)[0]),
        ("Images", "string", 1, lambda o: _containers(o)[1]),
        ("Selector", "string", 1, lambda o: selector_string(o["spec"].get("selector"))),
    ],
    "Pod": [
        (
            "Ready",
            "string",
            0,
            lambda o: "{}/{}".format(
                sum(
                    1 for c in o.get("status", {}).get("containerStatuses") or [] if c.get("ready")
                ),
                len(o["spec"].get("containers") or []),
            ),
        ),
        ("Status", "string", 0, _pod_status),
        (
            "Restarts",
            "string",
            0,
            lambda o: str(
                sum(
                    c.get("restartCount", 0)
                    for c in o.get("status", {}).get("containerStatuses") or []
                )
            ),
        ),
        ("Age", "string", 0, _age),
        ("IP", "string", 1, lambda o: o.get("status", {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda o: o["spec"].get("nodeName") or "<none>"),
        ("Nominated Node", "string", 1, lambda o: "<none>"),
        ("Readiness Gates", "string", 1, lambda o: "<none>"),
    ],
    "Service": [
        ("Type", "string", 0, lambda o: o["spec"].get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o: o["spec"].get("clusterIP") or "<none>"),
        ("External-IP", "string", 0, lambda o: "<none>"),
        ("Port(s)", "string", 0, _ports),
        ("Age", "string", 0, _age),
        (
            "Selector",
            "string",
            1,
            lambda o: (
                ",".join(f"{k}={v}" for k, v in sorted((o["spec"].get("selector") or {}).items()))
                or "<none>"
            ),
        ),
    ],
    "Job": [
        ("Status", "string", 0, _job_status),
        (
            "Completions",
            "string",
            0,
            lambda o: (
                f"{o.get('status', {}).get('succeeded', 0)}/{o['spec'].get('completions', 1)}"
            ),
        ),
        ("Duration", "string", 0, _duration),
        ("Age", "string", 0, _age),
        ("Containers", "string", 1, lambda o: _containers(o)[0]),
        ("Images", "string", 1, lambda o: _containers(o)[1]),
        ("Selector", "string", 1, lambda o: selector_string(o["spec"].get("selector"))),
    ],
    "HorizontalPodAutoscaler": [
        (
            "Reference",
            "string",
            0,
            lambda o: "{}/{}".format(
                o["spec"]["scaleTargetRef"].get("kind"), o["spec"]["scaleTargetRef"].get("name")
            ),
        ),
        ("Targets", "string", 0, lambda o: "cpu: <unknown>/80%"),
        ("MinPods", "string", 0, lambda o: str(o["spec"].get("minReplicas", 1))),
        ("MaxPods", "integer", 0, lambda o: o["spec"].get("maxReplicas")),
        ("Replicas", "integer", 0, lambda o: o.get("status", {}).get("currentReplicas", 0)),
        ("Age", "string", 0, _age),
    ],
    "Namespace": [
        ("Status", "string", 0, lambda o: o.get("status", {}).get("phase", "Active")),
        ("Age", "string", 0, _age),
    ],
    "Event": [
        (
            "Last Seen",
            "string",
            0,
            lambda o: _age({"metadata": {"creationTimestamp": o.get("lastTimestamp")}}),
        ),
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")),
        (
            "Object",
            "string",
            0,
            lambda o: "{}/{}".format(
                o.get("involvedObject", {}).get("kind", "").lower(),
                o.get("involvedObject", {}).get("name"),
            ),
        ),
        ("Message", "string", 0, lambda o: o.get("message", "")),
        ("Count", "integer", 1, lambda o: o.get("count", 1)),
    ],
    "Secret": [
        ("Type", "string", 0, lambda o: o.get("type", "Opaque")),
        ("Data", "string", 0, lambda o: str(len(o.get("data") or {}))),
        ("Age", "string", 0, _age),
    ],
    "ConfigMap": [
        (
            "Data",
            "string",
            0,
            lambda o: str(len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        ),
        ("Age", "string", 0, _age),
    ],
    "Node": [
        ("Status", "string", 0, lambda o: "Ready"),
        ("Roles", "string", 0, lambda o: "<none>"),
        ("Age", "string", 0, _age),
        (
            "Version",
            "string",
            0,
            lambda o: o.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", ""),
        ),
    ],
    "Endpoints": [
        (
            "Endpoints",
            "string",
            0,
            lambda o: (
                ",".join(
                    f"{a['ip']}:{p['port']}"
                    for s in o.get("subsets") or []
                    for a in s.get("addresses") or []
                    for p in s.get("ports") or []
                )
                or "<none>"
            ),
        ),
        ("Age", "string", 0, _age),
    ],
}

# Events print their name last and only with -o wide, as the real server's table does.
_NAME_LAST = {"Event"}


def table_for(res: Resource, obj: Obj, include: str) -> Obj:
    items = obj["items"] if obj.get("kind", "").endswith("List") and "items" in obj else [obj]
    columns = _COLUMNS.get(res.kind, [("Age", "string", 0, _age)])
    name_last = res.kind in _NAME_LAST
    name_def = {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace.",
        "priority": 1 if name_last else 0,
    }
    defs = [
        {"name": n, "type": t, "format": "", "description": n, "priority": p}
        for n, t, p, _ in columns
    ]
    defs = [*defs, name_def] if name_last else [name_def, *defs]
    rows = []
    for item in items:
        full = dict(item)
        full.setdefault("kind", res.kind)
        full.setdefault("apiVersion", res.api_version)
        if include == "Object":
            embedded = full
        elif include == "None":
            embedded = None
        else:
            embedded = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": item.get("metadata", {}),
            }
        cells = [fn(full) for _, _, _, fn in columns]
        name = item["metadata"]["name"]
        row: Obj = {"cells": [*cells, name] if name_last else [name, *cells]}
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    meta = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
    if obj.get("metadata", {}).get("continue"):
        meta["continue"] = obj["metadata"]["continue"]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": defs,
        "rows": rows,
    }
