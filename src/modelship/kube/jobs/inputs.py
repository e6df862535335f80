"""The stage inputs that describe the training pod, parsed and checked (bad input: exit 2)."""

from __future__ import annotations

import re
import sys
from typing import Any

from modelship.ci.errors import UsageError

DURATION = r"[0-9]+(\.[0-9]+)?(ms|s|m|h)?"
QUANTITY = re.compile(
    r"\+?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?|\+?\.[0-9]+"
)
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def parse_resources(text: str) -> dict[str, dict[str, str]]:
    """`name=quantity` lines: the request and the limit; `requests.x=` or `limits.x=` for one."""
    from modelship.ci.inputs import parse_key_values

    out: dict[str, dict[str, str]] = {}
    for key, value in parse_key_values("resources", text).items():
        sides = ("requests", "limits")
        side, _, resource = key.partition(".")
        if side in sides and resource:
            targets: tuple[str, ...] = (side,)
        else:
            targets, resource = sides, key
        if not QUANTITY.fullmatch(value):
            raise UsageError(
                f"input 'resources': {value!r} is not a Kubernetes quantity (for {resource})",
                "e.g. nvidia.com/gpu=1, memory=16Gi, cpu=500m",
            )
        for target in targets:
            out.setdefault(target, {})[resource] = value
    return out


def parse_tolerations(text: str) -> list[dict[str, Any]]:
    """`key[=value][:Effect]` lines (as `kubectl taint` writes taints), or a YAML list."""
    text = text.strip()
    if not text:
        return []
    if text.startswith(("[", "- ", "-\n")):
        return _yaml_tolerations(text)
    return [
        _toleration(line.strip()) for line in text.replace(",", "\n").splitlines() if line.strip()
    ]


def _yaml_tolerations(text: str) -> list[dict[str, Any]]:
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UsageError(f"input 'tolerations' is not valid YAML: {err}") from None
    if not isinstance(loaded, list) or not all(isinstance(t, dict) for t in loaded):
        raise UsageError("input 'tolerations' must be a list of tolerations")
    return loaded


def _toleration(line: str) -> dict[str, Any]:
    rest, _, effect = line.rpartition(":") if ":" in line else (line, "", "")
    if effect and effect not in EFFECTS:
        raise UsageError(
            f"input 'tolerations': unknown effect {effect!r} in {line!r}",
            f"one of {', '.join(EFFECTS)}, e.g. nvidia.com/gpu:NoSchedule",
        )
    key, eq, value = rest.partition("=")
    toleration: dict[str, Any] = {"key": key.strip()}
    toleration.update(
        {"operator": "Equal", "value": value.strip()} if eq else {"operator": "Exists"}
    )
    if effect:
        toleration["effect"] = effect
    return toleration


def parse_duration(text: str) -> float:
    match = re.fullmatch(DURATION, text.strip())
    if not match:
        raise UsageError(f"{text!r} is not a duration", "e.g. 90s, 30m, 6h")
    unit = match.group(2) or ""
    number = float(text.strip().removesuffix(unit))
    return number * {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0}[unit]


def parse_count(text: str, name: str) -> int:
    """A whole number, zero or more, given as input `name`."""
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"input '{name}' must be a whole number, not {text!r}") from None
    if value < 0:
        raise UsageError(f"input '{name}' must not be negative")
    return value


def pod_command(argv: list[str]) -> list[str]:
    """The training command as the pod runs it: tools by name, not by this runner's paths."""
    if (
        len(argv) >= 3
        and argv[0] == sys.executable
        and argv[1] == "-m"
        and argv[2] in ("dvc", "mlflow")
    ):
        return [argv[2], *argv[3:]]
    head = argv[0].rsplit("/", 1)[-1]
    if argv[0].startswith("/") and head in ("dvc", "mlflow"):
        return [head, *argv[1:]]
    return list(argv)
