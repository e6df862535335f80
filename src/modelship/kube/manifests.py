"""User manifests: loading, image injection, namespacing and validation.

`manifests` is a YAML file, a directory of YAML files, or a kustomization
(a directory holding `kustomization.yaml`, built with `kubectl kustomize`).
Everything is checked before anything reaches the cluster, so a bad manifest
ends the run with exit 2 and an untouched cluster.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from modelship.ci.errors import UsageError
from modelship.kube.render import CONTAINER_NAME, Manifest

IMAGE_PLACEHOLDER = "MODELSHIP_IMAGE"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# Cluster-scoped kinds: a deploy works inside one namespace with a namespaced Role.
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "APIService",
        "RuntimeClass",
    }
)

# Apply order, as Helm does it: what others refer to goes first.
_ORDER = [
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Role",
    "RoleBinding",
    "Service",
    "Deployment",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
]


def apply_order(manifests: Iterable[Manifest]) -> list[Manifest]:
    def key(item: Manifest) -> int:
        kind = str(item.get("kind", ""))
        return _ORDER.index(kind) if kind in _ORDER else len(_ORDER)

    return sorted(manifests, key=key)


def load(path: Path, env: Mapping[str, str] | None = None) -> list[Manifest]:
    """Read the manifests at `path` (file, directory or kustomization)."""
    if not path.exists():
        raise UsageError(f"manifests {str(path)!r} do not exist")
    if path.is_dir():
        if any((path / name).is_file() for name in KUSTOMIZATION_FILES):
            return parse(kustomize(path, env), f"kustomize build of {path.name}")
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
        if not files:
            raise UsageError(f"manifests directory {str(path)!r} holds no .yaml/.yml/.json file")
        out: list[Manifest] = []
        for file in files:
            out.extend(parse(file.read_text(encoding="utf-8"), str(file.relative_to(path))))
        return out
    return parse(path.read_text(encoding="utf-8"), path.name)


def kustomize(directory: Path, env: Mapping[str, str] | None = None) -> str:
    path_var = (env or {}).get("PATH")
    kubectl = shutil.which("kubectl", path=path_var) or shutil.which("kustomize", path=path_var)
    if kubectl is None:
        raise UsageError(
            f"{directory.name} is a kustomization, but neither kubectl nor kustomize is on PATH",
            "install kubectl (it has `kubectl kustomize` built in), or pass the built YAML",
        )
    argv = (
        [kubectl, "kustomize", str(directory)]
        if kubectl.endswith("kubectl")
        else [
            kubectl,
            "build",
            str(directory),
        ]
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise UsageError(
            f"kustomize build of {directory.name} failed: {done.stderr.strip()[-500:]}"
        )
    return done.stdout


def parse(text: str, source: str) -> list[Manifest]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        raise UsageError(f"{source}: not valid YAML: {err}") from None
    out: list[Manifest] = []
    for index, doc in enumerate(documents):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise UsageError(f"{source}: document {index + 1} is not a mapping")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out.extend(item for item in doc["items"] if isinstance(item, dict))
            continue
        out.append(doc)
    for doc in out:
        for key in ("apiVersion", "kind"):
            if not isinstance(doc.get(key), str) or not doc[key]:
                raise UsageError(f"{source}: a document has no {key}")
        name = (
            doc.get("metadata", {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        )
        if not isinstance(name, str) or not name:
            raise UsageError(f"{source}: a {doc['kind']} has no metadata.name")
    return out


def describe(manifest: Manifest) -> str:
    return f"{manifest.get('kind', '?')}/{manifest.get('metadata', {}).get('name', '?')}"


def containers(manifest: Manifest) -> list[dict[str, Any]]:
    spec = manifest.get("spec", {}).get("template", {}).get("spec", {})
    found = [*spec.get("initContainers", []), *spec.get("containers", [])]
    return [c for c in found if isinstance(c, dict)]


def set_image(manifests: list[Manifest], image: str) -> list[Manifest]:
    """Give the container named `model`, or any image `MODELSHIP_IMAGE`, the image."""
    out = copy.deepcopy(manifests)
    replaced = 0
    for manifest in out:
        for container in containers(manifest):
            if (
                container.get("name") == CONTAINER_NAME
                or container.get("image") == IMAGE_PLACEHOLDER
            ):
                container["image"] = image
                replaced += 1
    if replaced == 0:
        raise UsageError(
            "no container in the manifests receives the image",
            f"name the serving container `{CONTAINER_NAME}` "
            f"or set its image to {IMAGE_PLACEHOLDER}",
        )
    return out


def set_namespace(manifests: list[Manifest], namespace: str) -> list[Manifest]:
    out = copy.deepcopy(manifests)
    for manifest in out:
        if manifest["kind"] in CLUSTER_SCOPED:
            raise UsageError(
                f"{describe(manifest)} is cluster-scoped; deploy applies namespaced resources only",
                "create cluster-scoped resources once, outside the pipeline",
            )
        meta = manifest.setdefault("metadata", {})
        given = meta.get("namespace")
        if given and given != namespace:
            raise UsageError(
                f"{describe(manifest)} names namespace {given!r} "
                f"but the deploy targets {namespace!r}",
                "remove metadata.namespace from the manifest or set the `namespace` input to match",
            )
        meta["namespace"] = namespace
    return out


def primary_deployment(manifests: list[Manifest]) -> Manifest:
    """The Deployment that serves the model: the one holding the `model` container."""
    deployments = [m for m in manifests if m["kind"] == "Deployment"]
    if not deployments:
        raise UsageError("the manifests hold no Deployment to roll out")
    for item in deployments:
        if any(c.get("name") == CONTAINER_NAME for c in containers(item)):
            return item
    return deployments[0]


def service_for(manifests: list[Manifest], deployment: Manifest) -> Manifest | None:
    """The Service whose selector picks the Deployment's pods."""
    pod_labels = (
        deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    )
    for item in manifests:
        if item["kind"] != "Service":
            continue
        selector = item.get("spec", {}).get("selector") or {}
        if selector and all(pod_labels.get(k) == v for k, v in selector.items()):
            return item
    return None


def validate(manifests: list[Manifest], kube_version: str | None = None) -> list[str]:
    """Check every manifest against the Kubernetes OpenAPI schemas (strict: no unknown fields).

    Returns warnings for kinds without a schema (custom resources); raises
    UsageError on the first invalid manifest.
    """
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError

    version = kube_version or kubernetes_validate.latest_version()
    warnings: list[str] = []
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = ".".join(str(part) for part in err.path) or "(top level)"
            raise UsageError(
                f"{describe(manifest)} is not a valid {manifest['kind']} "
                f"(Kubernetes {err.version}): {where}: {err.message}",
                "fix the manifest; nothing was applied",
            ) from None
        except SchemaNotFoundError:
            warnings.append(
                f"{describe(manifest)}: no schema for {manifest['apiVersion']}, not validated"
            )
    return warnings


def dump(manifests: Iterable[Manifest]) -> str:
    return yaml.safe_dump_all(list(manifests), sort_keys=False, default_flow_style=False)
