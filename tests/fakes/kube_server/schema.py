"""The real Kubernetes object schemas (v1.32), as shipped by `kubernetes-validate`.

They drive what a real API server derives from its Go types: which fields exist
(unknown ones are dropped or refused, like the real decoder), which lists merge
by key (strategic merge patch, server-side apply), which maps are atomic.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

KUBE_VERSION = "v1.32.0"

Node = dict[str, Any]


@functools.cache
def definitions() -> dict[str, Node]:
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")  # not imported: it pulls in jsonschema
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kube test server needs the kubernetes-validate package")
    base = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    path = base / f"{KUBE_VERSION}-local-strict" / "_definitions.json"
    if not path.exists():  # fall back to the newest bundled release
        candidates = sorted(base.glob("v*-local-strict/_definitions.json"))
        path = candidates[-1]
    data: dict[str, Node] = json.loads(path.read_text())["$defs"]
    return data


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, node in definitions().items():
        for gvk in node.get("x-kubernetes-group-version-kind", []):
            out[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return out


def kind_schema(group: str, version: str, kind: str) -> Node | None:
    name = _gvk_index().get((group, version, kind))
    return definitions()[name] if name else None


def resolve(node: Node | None) -> Node | None:
    """Follow `$ref`, keeping the referring node's `x-kubernetes-*` annotations."""
    if node is None:
        return None
    ref = node.get("$ref")
    if not ref:
        return node
    target = dict(definitions()[ref.rsplit("/", 1)[-1]])
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            target[key] = value
    return target


def types_of(node: Node) -> set[str]:
    if "oneOf" in node:
        out: set[str] = set()
        for alt in node["oneOf"]:
            out |= types_of(alt)
        return out
    t = node.get("type")
    if t is None:
        return set()
    return {t} if isinstance(t, str) else set(t)


def is_object(node: Node) -> bool:
    return "properties" in node or "object" in types_of(node)


def child(node: Node | None, key: str) -> tuple[bool, Node | None]:
    """(known, schema) of `key` inside an object node; unknown fields give (False, None)."""
    if node is None:
        return True, None
    props = node.get("properties")
    if props is not None:
        if key in props:
            return True, resolve(props[key])
        return False, None
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return True, resolve(extra)
    return True, None  # free-form (RawExtension, FieldsV1, ...)


def items(node: Node | None) -> Node | None:
    if node is None:
        return None
    return resolve(node.get("items"))


def list_type(node: Node | None) -> tuple[str, list[str]]:
    """Server-side apply list semantics: ("atomic"|"set"|"map", map keys)."""
    if node is None:
        return "atomic", []
    kind = node.get("x-kubernetes-list-type", "atomic")
    return kind, list(node.get("x-kubernetes-list-map-keys", []))


def patch_strategy(node: Node | None) -> tuple[set[str], str | None]:
    """Strategic merge patch semantics: (strategies, merge key)."""
    if node is None:
        return set(), None
    strategies = set(filter(None, node.get("x-kubernetes-patch-strategy", "").split(",")))
    return strategies, node.get("x-kubernetes-patch-merge-key")


def map_is_atomic(node: Node | None) -> bool:
    return node is not None and node.get("x-kubernetes-map-type") == "atomic"
