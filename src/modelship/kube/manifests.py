"""User manifests: loading (confined to the workspace), image injection, namespacing, redaction.

`manifests` is a YAML file, a directory of YAML files, or a kustomization
(a directory holding `kustomization.yaml`, built with `kubectl kustomize`).
Everything is checked before anything reaches the cluster, so a bad manifest
ends the run with exit 2 and an untouched cluster (the checks against the
API server's rules are in `validation`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from modelship.ci.errors import UsageError
from modelship.ci.paths import confine
from modelship.kube.render import CONTAINER_NAME, Manifest

IMAGE_PLACEHOLDER = "MODELSHIP_IMAGE"
REDACTED = "***"
_PLAIN = re.compile(r"[A-Za-z0-9][-A-Za-z0-9.]*")
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


def load(
    path: Path, env: Mapping[str, str] | None = None, root: Path | None = None
) -> list[Manifest]:
    """Read the manifests at `path` (file, directory or kustomization).

    Every file read must resolve, symlinks followed, inside `root` (the
    workspace): a link that points out is refused before its content is read.
    """
    root = (root or path).resolve()
    if not path.exists():
        raise UsageError(f"manifests {str(path)!r} do not exist")
    if path.is_dir():
        files = confined_files(path, root)
        if any((path / name).is_file() for name in KUSTOMIZATION_FILES):
            confine_kustomization(path, root)
            return parse(kustomize(path, env), f"kustomize build of {path.name!r}")
        files = [p for p in files if p.suffix in (".yaml", ".yml", ".json")]
        if not files:
            raise UsageError(f"manifests directory {str(path)!r} holds no .yaml/.yml/.json file")
        out: list[Manifest] = []
        for file in files:
            text = file.resolve().read_text(encoding="utf-8", errors="replace")
            out.extend(parse(text, repr(str(file.relative_to(path)))))
        return out
    confine(path, root, "input 'manifests'")
    return parse(path.read_text(encoding="utf-8", errors="replace"), repr(path.name))


def confined_files(directory: Path, root: Path) -> list[Path]:
    """Every file under `directory`, sorted; refuses any entry that resolves outside `root`.

    Symlinked directories are checked but not descended into, as `rglob` does.
    """
    found: list[Path] = []
    for current, dirs, files in os.walk(directory, followlinks=False):
        for name in sorted(dirs + files):
            entry = Path(current) / name
            if entry.is_symlink():
                where = str(entry.relative_to(directory))
                confine(entry, root, f"manifests entry {where!r} (a symbolic link)")
            if name in files and entry.is_file():
                found.append(entry)
    return sorted(found)


def confine_kustomization(directory: Path, root: Path, depth: int = 0) -> None:
    """Local bases, resources and components of a kustomization stay inside `root`.

    kustomize itself refuses files outside a kustomization's folder, but not
    other kustomization folders (`resources: [../../elsewhere]`); those are
    checked here, recursively. Remote resources (URLs) are kustomize's concern.
    """
    if depth > 20:
        raise UsageError(f"kustomization {directory.name!r} nests more than 20 levels deep")
    text = next(
        (directory / name).read_text(encoding="utf-8", errors="replace")
        for name in KUSTOMIZATION_FILES
        if (directory / name).is_file()
    )
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return  # kustomize reports it, with its own words
    if not isinstance(loaded, dict):
        return
    for key in ("resources", "bases", "components", "crds"):
        entries = loaded.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, str) or "://" in entry or entry.startswith("github.com/"):
                continue
            target = confine(directory / entry, root, f"kustomization entry {entry!r}")
            if target.is_dir() and any((target / n).is_file() for n in KUSTOMIZATION_FILES):
                confined_files(target, root)
                confine_kustomization(target, root, depth + 1)


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
        # Only where and what: PyYAML's own text quotes the line, which may hold a secret.
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "cannot be parsed"
        raise UsageError(f"{source}: not valid YAML{where}: {problem}") from None
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
            raise UsageError(f"{source}: a {plain(doc['kind'])} has no metadata.name")
    return out


def plain(part: object) -> str:
    """A kind or name as it is when it is a plain word, else quoted (line breaks stay visible)."""
    if (
        isinstance(part, str)
        and part.isascii()
        and re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9.]*", part)
    ):
        return part
    return repr(part) if isinstance(part, str) else repr(str(part))


def describe(manifest: Manifest) -> str:
    meta = manifest.get("metadata")
    name = meta.get("name", "?") if isinstance(meta, dict) else "?"
    return f"{plain(manifest.get('kind', '?'))}/{plain(name)}"


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


def secret_values(manifests: Iterable[Manifest]) -> list[str]:
    """Every value of a Secret's `data` (as given and decoded) and `stringData`."""
    found: list[str] = []
    for manifest in manifests:
        if manifest.get("kind") != "Secret":
            continue
        for section in ("data", "stringData"):
            values = manifest.get(section)
            if not isinstance(values, dict):
                continue
            for value in values.values():
                found.append(str(value))
                if section == "data":
                    found.extend(_decoded(str(value)))
    return [value for value in found if value]


def _decoded(value: str) -> list[str]:
    try:
        return [base64.b64decode(value, validate=True).decode("utf-8")]
    except (binascii.Error, UnicodeDecodeError):
        return []


def redacted(manifests: Iterable[Manifest]) -> list[Manifest]:
    """A copy for people to read: every Secret value replaced, keys kept.

    The cluster receives the originals; summaries, reports and written files
    get this copy.
    """
    out = copy.deepcopy(list(manifests))
    for manifest in out:
        if manifest.get("kind") != "Secret":
            continue
        for section in ("data", "stringData"):
            values = manifest.get(section)
            if isinstance(values, dict):
                manifest[section] = dict.fromkeys(values, REDACTED)
            elif values is not None:
                manifest[section] = REDACTED
    return out


def dump(manifests: Iterable[Manifest]) -> str:
    return yaml.safe_dump_all(list(manifests), sort_keys=False, default_flow_style=False)
