"""Discovery documents (legacy, not aggregated) and the OpenAPI v3 documents.

kubectl asks for aggregated discovery first; answering with a plain
APIGroupList (Content-Type application/json) makes it fall back, as it does
against older servers. OpenAPI v3 documents list each PATCH operation with its
`x-kubernetes-group-version-kind` and `fieldValidation` parameter, which is
what kubectl checks before trusting the server with field validation, and the
real schemas (for `kubectl explain`). The PATCH operations do not offer
strategic merge patch in their request bodies, so kubectl computes
client-side-apply patches from its compiled-in types.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

from .resources import RESOURCES, Resource, group_versions

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def group_list() -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group:
            groups.setdefault(r.group, [])
            if r.version not in groups[r.group]:
                groups[r.group].append(r.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{g}/{versions[0]}", "version": versions[0]},
            }
            for g, versions in groups.items()
        ],
    }


def group(name: str) -> dict[str, Any] | None:
    for g in group_list()["groups"]:
        if g["name"] == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def _subresource(r: Resource, sub: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"{r.plural}/{sub}",
        "singularName": "",
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": ["get", "patch", "update"],
    }
    if sub == "scale":
        entry.update(group="autoscaling", version="v1", kind="Scale")
    elif sub == "log":
        entry["verbs"] = ["get"]
    elif sub == "proxy":
        entry["kind"] = f"{r.kind}ProxyOptions"
        entry["verbs"] = ["create", "delete", "get", "patch", "update"]
    return entry


def resource_list(api_version: str) -> dict[str, Any] | None:
    resources = group_versions().get(api_version)
    if resources is None:
        return None
    out: list[dict[str, Any]] = []
    for r in resources:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
            "storageVersionHash": hashlib.sha256(r.api_version.encode() + r.kind.encode())
            .digest()[:8]
            .hex(),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        out += [_subresource(r, s) for s in r.subresources]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version,
        "resources": out,
    }


def _gv_path(api_version: str) -> str:
    return "api/v1" if api_version == "v1" else f"apis/{api_version}"


def openapi_v3_index() -> dict[str, Any]:
    return {
        "paths": {
            _gv_path(gv): {"serverRelativeURL": f"/openapi/v3/{_gv_path(gv)}?hash={_hash(gv)}"}
            for gv in group_versions()
        }
    }


def _hash(gv: str) -> str:
    return hashlib.sha256(gv.encode()).hexdigest()[:32].upper()


@functools.cache
def openapi_v3_doc(gv_path: str) -> dict[str, Any] | None:
    for gv, resources in group_versions().items():
        if _gv_path(gv) != gv_path:
            continue
        paths: dict[str, Any] = {}
        for r in resources:
            base = f"/{gv_path}/" + (
                f"namespaces/{{namespace}}/{r.plural}" if r.namespaced else r.plural
            )
            gvk = {"group": r.group, "version": r.version, "kind": r.kind}
            params = [
                {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                for name in ("dryRun", "fieldManager", "fieldValidation", "force")
            ]
            paths[base + "/{name}"] = {
                "patch": {
                    "operationId": f"patch{r.kind}",
                    "parameters": params,
                    "requestBody": {
                        "content": {
                            "application/apply-patch+yaml": {"schema": {"type": "object"}},
                            "application/json-patch+json": {"schema": {"type": "object"}},
                            "application/merge-patch+json": {"schema": {"type": "object"}},
                        }
                    },
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK"}},
                },
                "get": {
                    "operationId": f"read{r.kind}",
                    "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK"}},
                },
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths,
            "components": {"schemas": _schemas_for(resources)},
        }
    return None


def _to_openapi(node: Any) -> Any:
    """A JSON-schema node of the bundled definitions, back in OpenAPI v3 form."""
    if isinstance(node, list):
        return [_to_openapi(n) for n in node]
    if not isinstance(node, dict):
        return node
    alts = node.get("oneOf")
    if isinstance(alts, list) and {"integer", "string"} <= {
        t
        for a in alts
        for t in ([a.get("type")] if isinstance(a.get("type"), str) else a.get("type") or [])
    }:
        return {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out["allOf"] = [{"$ref": "#/components/schemas/" + value.rsplit("/", 1)[-1]}]
        elif key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            if kinds:
                out["type"] = kinds[0]
        elif key == "additionalProperties" and value is False:
            continue
        elif key == "oneOf":
            out["type"] = "string"
        else:
            out[key] = _to_openapi(value)
    return out


def _schemas_for(resources: list[Resource]) -> dict[str, Any]:
    """The definitions the group-version's kinds reach, for `kubectl explain`."""
    from . import schema

    defs = schema.definitions()
    wanted: list[str] = []
    for r in resources:
        node = schema.kind_schema(r.group, r.version, r.kind)
        name = next((n for n, d in defs.items() if d is node), None)
        if name:
            wanted.append(name)
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        text = json.dumps(defs[name])
        wanted += [ref.rsplit("/", 1)[-1] for ref in re.findall(r'"\$ref": "([^"]+)"', text)]
    return {name: _to_openapi(defs[name]) for name in sorted(seen)}
