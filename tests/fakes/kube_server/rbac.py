"""Optional RBAC: restrict the token to what given Roles and ClusterRoles allow.

Off by default (any request with the token may do anything). With
`KubeServer.restrict(role, ...)`, each API request is authorized the way the
real RBAC authorizer does for a user bound to those roles: verbs from the
HTTP method (get, list, watch, create, update, patch, delete,
deletecollection), subresources as `deployments/scale`, `pods/log`,
`services/proxy`, `resourceNames`, and the extra `create` check a real server
makes when a server-side apply creates the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .resources import Resource


@dataclass(frozen=True)
class Grant:
    namespace: str | None  # None: a ClusterRole, valid everywhere
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    names: tuple[str, ...]


def grants_of(roles: tuple[dict[str, Any], ...]) -> list[Grant]:
    out = []
    for role in roles:
        kind = role.get("kind")
        if kind not in ("Role", "ClusterRole"):
            raise ValueError(f"not a Role or ClusterRole: {kind!r}")
        ns = role.get("metadata", {}).get("namespace") if kind == "Role" else None
        if kind == "Role" and not ns:
            raise ValueError("a Role needs metadata.namespace")
        for rule in role.get("rules") or []:
            out.append(
                Grant(
                    ns,
                    tuple(rule.get("apiGroups") or ()),
                    tuple(rule.get("resources") or ()),
                    tuple(rule.get("verbs") or ()),
                    tuple(rule.get("resourceNames") or ()),
                )
            )
    return out


def verb_for(method: str, *, collection: bool, watch: bool, sub: str) -> str:
    if sub and sub != "proxy":
        return {"GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch"}.get(method, "get")
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "list" if collection and not sub else "get"
    if method == "DELETE" and collection and not sub:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        method, "get"
    )


def allowed(grants: list[Grant], verb: str, res: Resource, sub: str, ns: str | None,
            name: str | None) -> bool:  # fmt: skip
    resource = f"{res.plural}/{sub}" if sub else res.plural
    for g in grants:
        if g.namespace is not None and (not res.namespaced or g.namespace != ns):
            continue
        if "*" not in g.api_groups and res.group not in g.api_groups:
            continue
        if "*" not in g.resources and resource not in g.resources:
            continue
        if "*" not in g.verbs and verb not in g.verbs:
            continue
        if g.names and (name is None or name not in g.names):
            continue
        return True
    return False


def forbidden(user: str, verb: str, res: Resource, sub: str, ns: str | None,
              name: str | None) -> ApiError:  # fmt: skip
    resource = f"{res.plural}/{sub}" if sub else res.plural
    subject = f'{res.group_resource} "{name}"' if name else res.group_resource
    scope = f'in the namespace "{ns}"' if res.namespaced and ns else "at the cluster scope"
    details: dict[str, Any] = {"kind": res.plural}
    if name:
        details["name"] = name
    if res.group:
        details["group"] = res.group
    return ApiError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{res.group}" {scope}',
        details,
    )
