"""Manifests checked as the API server of the target version would check them.

Two passes: the Kubernetes OpenAPI schema of the target version (through
`kubernetes-validate`, strict: no unknown fields), then the field rules the
schema cannot express (ports, quantities, names, replica counts; see
`names`). A kind without a schema is reported as not validated, never as
valid. A Secret's values never appear in a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from modelship.ci.errors import UsageError
from modelship.kube import names
from modelship.kube.manifests import describe, plain
from modelship.kube.render import Manifest

Rule = Callable[[object], "str | None"]

# Fields whose value is a port wherever they appear in a built-in kind.
_PORT_FIELDS: dict[str, Rule] = {
    "containerPort": names.port_number,
    "hostPort": lambda value: names.port_number(value, zero=True),
    "nodePort": lambda value: names.port_number(value, zero=True),
    "targetPort": names.port_or_name,
    "port": names.port_or_name,  # Service, probes; an Ingress backend's is a mapping
    "number": names.port_number,  # only under `port` (Ingress backend)
}
# Maps of resource name -> quantity.
_QUANTITY_MAPS = frozenset(
    {"requests", "limits", "hard", "max", "min", "default", "defaultRequest"}
)
_QUANTITY_FIELDS = frozenset({"sizeLimit"})
_LABEL_MAPS = frozenset({"labels", "matchLabels", "annotations", "nodeSelector"})
_MAPS_CHECKED = _QUANTITY_MAPS | _LABEL_MAPS
# Maps whose keys are the user's own words: a ConfigMap's `port` entry is no port.
_FREE_FORM = _LABEL_MAPS | {"data", "stringData", "binaryData"}
# Counts and durations the API server wants non-negative (or at least one).
_LOWEST = {
    "replicas": 0,
    "minReplicas": 1,
    "maxReplicas": 1,
    "revisionHistoryLimit": 0,
    "minReadySeconds": 0,
    "progressDeadlineSeconds": 1,
    "terminationGracePeriodSeconds": 0,
    "initialDelaySeconds": 0,
    "timeoutSeconds": 0,
    "periodSeconds": 0,
    "successThreshold": 0,
    "failureThreshold": 0,
    "backoffLimit": 0,
    "activeDeadlineSeconds": 1,
    "completions": 0,
    "parallelism": 0,
    "ttlSecondsAfterFinished": 0,
    "averageUtilization": 1,
}
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
_API_VERSION = re.compile(r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?")
_NAMED_LISTS = {"containers", "initContainers", "ephemeralContainers", "volumes"}


@dataclass(frozen=True)
class Validation:
    """What was checked, against which schema version, and what could not be."""

    version: str
    validated: list[str] = field(default_factory=list)
    not_validated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.validated)} manifests valid for Kubernetes {self.version}"
        if self.not_validated:
            text += f"; {len(self.not_validated)} NOT validated (no schema)"
        return text


def schema_version(requested: str | None) -> str:
    """The schema version to validate against: the newest not newer than `requested`."""
    from kubernetes_validate.utils import all_versions
    from packaging.version import InvalidVersion, Version

    known: list[str] = all_versions()
    if not requested:
        return known[-1]
    try:
        wanted = Version(requested.strip().removeprefix("v"))
    except InvalidVersion:
        raise UsageError(
            f"input 'kube-version': {names.shown(requested)} is not a version", "e.g. 1.30"
        ) from None
    fitting = [v for v in known if Version(v).release[:2] <= wanted.release[:2]]
    if not fitting:
        raise UsageError(
            f"input 'kube-version': no schema for Kubernetes {requested} "
            f"(the oldest known is {known[0]})",
            "pass a newer version",
        )
    return fitting[-1]


def validate(manifests: Iterable[Manifest], version: str) -> Validation:
    """Check every manifest; raise UsageError naming the first invalid one."""
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError

    result = Validation(version)
    for manifest in manifests:
        problems = type_problems(manifest) or metadata_problems(manifest)
        if problems:
            # A kind such as `../x` would also name a file to kubernetes-validate.
            _refuse(manifest, problems, version)
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            problems.append(_schema_problem(manifest, err))
        except SchemaNotFoundError:
            if problems:
                _refuse(manifest, problems, version)
            result.not_validated.append(
                f"{describe(manifest)}: no schema for {names.shown(manifest['apiVersion'])} "
                f"in Kubernetes {version}, not validated"
            )
            continue
        problems.extend(field_problems(manifest))
        problems = list(dict.fromkeys(problems))  # metadata is checked by both passes
        if problems:
            _refuse(manifest, problems, version)
        result.validated.append(describe(manifest))
    return result


def _refuse(manifest: Manifest, problems: list[str], version: str) -> NoReturn:
    shown = "; ".join(problems[:5]) + (
        f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    )
    raise UsageError(
        f"{describe(manifest)} is not a valid {plain(manifest.get('kind'))} "
        f"(Kubernetes {version}): {shown}",
        "fix the manifest; nothing was applied",
    )


def _schema_problem(manifest: Manifest, err: Any) -> str:
    where = ".".join(names.segment(part) for part in err.path) or "(top level)"
    if manifest.get("kind") == "Secret":
        # jsonschema quotes the offending value; a Secret's values are never shown.
        return f"{where}: does not match the schema ({err.validator})"
    return f"{where}: {err.message}"


def type_problems(manifest: Manifest) -> list[str]:
    """`kind` is a CamelCase word and `apiVersion` a `group/version`, as the API server wants."""
    problems: list[str] = []
    if not isinstance(manifest.get("kind"), str) or not _KIND.fullmatch(manifest["kind"]):
        problems.append(f"kind: {names.shown(manifest.get('kind'))} is not a kind")
    api_version = manifest.get("apiVersion")
    if not isinstance(api_version, str) or not _API_VERSION.fullmatch(api_version):
        problems.append(f"apiVersion: {names.shown(api_version)} is not an API version")
    return problems


def metadata_problems(manifest: Manifest) -> list[str]:
    """Name and namespace: the same rules for every kind, built-in or not."""
    meta = manifest.get("metadata")
    if not isinstance(meta, dict):
        return ["metadata: not a mapping"]
    problems: list[str] = []
    why = names.object_name(str(manifest.get("kind")), meta.get("name"))
    if why:
        problems.append(f"metadata.name: {why}")
    if meta.get("namespace") is not None:
        why = names.dns1123_label(meta["namespace"])
        if why:
            problems.append(f"metadata.namespace: {why}")
    for section in _LABEL_MAPS & {"labels", "annotations"}:
        if isinstance(meta.get(section), dict):
            why = _label_problem(section, meta[section])
            if why:
                problems.append(f"metadata.{section}: {why}")
    return problems


def _label_problem(section: str, mapping: dict[str, Any]) -> str | None:
    """Keys are qualified names; label values (not annotation values) are limited too."""
    for key, value in mapping.items():
        why = names.qualified_key(key)
        if why is None and section != "annotations":
            why = names.label_value(value)
        if why:
            return why
    return None


def field_problems(manifest: Manifest) -> list[str]:
    """The API server's field rules, for the fields of built-in kinds."""
    problems: list[str] = []
    _walk(manifest, (), problems)
    return problems


def _walk(node: Any, path: tuple[str, ...], problems: list[str]) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, (*path, str(index)), problems)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = (*path, names.segment(key))
        why = _field_rule(key, value, path)
        if why:
            problems.append(f"{'.'.join(here)}: {why}")
        if key not in _FREE_FORM and not _is_plain_selector(key, value):
            _walk(value, here, problems)
    low, high = node.get("minReplicas"), node.get("maxReplicas")
    if isinstance(low, int) and isinstance(high, int) and high < low:
        problems.append(f"{'.'.join(path)}: maxReplicas {high} is below minReplicas {low}")


def _is_plain_selector(key: str, value: Any) -> bool:
    """A Service's `selector`: label pairs, not a LabelSelector with `matchLabels`."""
    return (
        key == "selector"
        and isinstance(value, dict)
        and not {"matchLabels", "matchExpressions"} & set(value)
    )


def _field_rule(key: str, value: Any, parent: tuple[str, ...]) -> str | None:
    if _is_plain_selector(key, value):
        return _label_problem("labels", value)
    if value is None or (isinstance(value, dict | list) and key not in _MAPS_CHECKED):
        return None
    if key in _LABEL_MAPS and isinstance(value, dict):
        return _label_problem(key, value)
    if key == "number" and (not parent or parent[-1] != "port"):
        return None
    if key in _PORT_FIELDS:
        return _PORT_FIELDS[key](value)
    if key in _LOWEST:
        return names.int_at_least(value, _LOWEST[key])
    if key in _QUANTITY_FIELDS:
        return names.quantity(value)
    if key in _QUANTITY_MAPS and isinstance(value, dict) and _holds_resources(key, parent):
        for resource, amount in value.items():
            why = names.quantity(amount)
            if why:
                return f"{names.segment(resource)}: {why}"
        return None
    if key == "name" and len(parent) >= 2 and parent[-2] in _NAMED_LISTS:
        return names.dns1123_label(value)
    if key == "name" and len(parent) >= 2 and parent[-2] == "ports":
        # A container's port name is an IANA service name; a Service's a DNS-1123 label.
        in_pod = any(part in _NAMED_LISTS for part in parent)
        return names.port_name(value) if in_pod else names.dns1123_label(value)
    return None


def _holds_resources(key: str, parent: tuple[str, ...]) -> bool:
    """`requests`/`limits` of a container, `hard` of a quota, a LimitRange's bounds."""
    if key in ("requests", "limits"):
        return parent[-1:] == ("resources",)
    if key == "hard":
        return parent[-1:] in (("spec",), ("status",))
    # max, min, default, defaultRequest: only inside a LimitRange's `limits` list.
    return len(parent) >= 2 and parent[-2] == "limits"
