"""Discovery documents (legacy, not aggregated) and a minimal OpenAPI v3 index.

kubectl asks for aggregated discovery first; answering with a plain
APIGroupList (Content-Type application/json) makes it fall back, as it does
against older servers. OpenAPI v3 documents list each PATCH operation with its
`x-kubernetes-group-version-kind` and `fieldValidation` parameter, which is
what kubectl checks before trusting the server with field validation; the
schemas themselves are not served, so kubectl computes strategic merge
patches from its compiled-in types.
"""

from __future__ import annotations

import hashlib
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
            "components": {"schemas": {}},
        }
    return None
