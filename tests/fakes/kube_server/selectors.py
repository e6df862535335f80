"""Label and field selectors, in their query-string and LabelSelector forms."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Predicate = Callable[[dict[str, Any]], bool]

_REQ = re.compile(
    r"""\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9._/-]+)\s*
    (?:(?P<op>==|=|!=|\s+in\s+|\s+notin\s+)\s*
       (?:\((?P<set>[^)]*)\)|(?P<val>[A-Za-z0-9._-]*)))?\s*""",
    re.VERBOSE,
)


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def parse_label_selector(text: str | None) -> Callable[[dict[str, str]], bool]:
    if not text:
        return lambda _labels: True
    reqs: list[Callable[[dict[str, str]], bool]] = []
    for part in _split_top(text):
        m = _REQ.fullmatch(part)
        if not m:
            raise bad_request(f"unable to parse requirement: {part!r}")
        key, op = m["key"], (m["op"] or "").strip()
        if m["neg"]:
            if op:
                raise bad_request(f"unable to parse requirement: {part!r}")
            reqs.append(lambda labels, k=key: k not in labels)
        elif not op:
            reqs.append(lambda labels, k=key: k in labels)
        elif op in ("=", "=="):
            reqs.append(lambda labels, k=key, v=m["val"] or "": labels.get(k) == v)
        elif op == "!=":
            reqs.append(lambda labels, k=key, v=m["val"] or "": labels.get(k) != v)
        else:
            values = {s.strip() for s in (m["set"] or "").split(",") if s.strip()}
            if op == "in":
                reqs.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                reqs.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
    return lambda labels: all(r(labels) for r in reqs)


def label_selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_string(selector: dict[str, Any] | None) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op = expr.get("operator")
        vals = ",".join(expr.get("values") or [])
        key = expr.get("key")
        if op == "In":
            parts.append(f"{key} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({vals})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _field(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


# The field labels each kind's registry supports; anything else is a 400, as on a real server.
SUPPORTED_FIELDS: dict[str, set[str]] = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
            "status.podIPs", "status.nominatedNodeName"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
              "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "Namespace": {"status.phase"},
    "Secret": {"type"},
    "ReplicaSet": {"status.replicas"},
    "Job": {"status.successful"},
    "Node": {"spec.unschedulable"},
    "Service": {"spec.clusterIP", "spec.type"},
}  # fmt: skip
_ALWAYS = {"metadata.name", "metadata.namespace"}


def parse_field_selector(text: str | None, kind: str = "") -> Predicate:
    if not text:
        return lambda _obj: True
    allowed = _ALWAYS | SUPPORTED_FIELDS.get(kind, set())
    reqs: list[Predicate] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise bad_request(f"invalid field selector: {part!r}")
        path, op, value = m.groups()
        if kind and path not in allowed:
            raise bad_request(f"field label not supported: {path}")
        if path == "source" and kind == "Event":
            path = "source.component"
        if op == "!=":
            reqs.append(lambda o, p=path, v=value: _field(o, p) != v)
        else:
            reqs.append(lambda o, p=path, v=value: _field(o, p) == v)
    return lambda obj: all(r(obj) for r in reqs)
