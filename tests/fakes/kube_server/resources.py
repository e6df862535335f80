"""The API resources the server serves, as discovery describes them."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    # batch/v1 Jobs still orphan their pods on DELETE unless told otherwise.
    default_propagation: str = "Background"
    has_generation: bool = True
    status_subresource: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, `pods`: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`Deployment.apps`, `Pod`: how Invalid errors name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)


RESOURCES: list[Resource] = [
    Resource(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short_names=("ns",),
        subresources=("status",),
        status_subresource=True,
        has_generation=False,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    Resource(
        "",
        "v1",
        "Node",
        "nodes",
        namespaced=False,
        short_names=("no",),
        subresources=("status",),
        status_subresource=True,
        has_generation=False,
    ),
    Resource(
        "",
        "v1",
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        subresources=("status", "log", "proxy"),
        status_subresource=True,
        has_generation=False,
    ),
    Resource(
        "",
        "v1",
        "Service",
        "services",
        short_names=("svc",),
        categories=("all",),
        subresources=("status", "proxy"),
        status_subresource=True,
        has_generation=False,
    ),
    Resource("", "v1", "Endpoints", "endpoints", short_names=("ep",), has_generation=False),
    Resource("", "v1", "Event", "events", short_names=("ev",), has_generation=False),
    Resource("", "v1", "Secret", "secrets", has_generation=False),
    Resource("", "v1", "ConfigMap", "configmaps", short_names=("cm",), has_generation=False),
    Resource(
        "", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), has_generation=False
    ),
    Resource(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        categories=("all",),
        subresources=("status", "scale"),
        status_subresource=True,
    ),
    Resource(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        categories=("all",),
        subresources=("status", "scale"),
        status_subresource=True,
    ),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions"),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", has_generation=False),
    Resource(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short_names=("hpa",),
        categories=("all",),
        subresources=("status",),
        status_subresource=True,
    ),
    Resource(
        "batch",
        "v1",
        "Job",
        "jobs",
        categories=("all",),
        subresources=("status",),
        status_subresource=True,
        default_propagation="Orphan",
    ),
]

BY_KEY: dict[tuple[str, str], Resource] = {r.key: r for r in RESOURCES}
BY_KIND: dict[tuple[str, str], Resource] = {(r.api_version, r.kind): r for r in RESOURCES}


def group_versions() -> dict[str, list[Resource]]:
    out: dict[str, list[Resource]] = {}
    for r in RESOURCES:
        out.setdefault(r.api_version, []).append(r)
    return out
