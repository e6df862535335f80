"""Reading the metrics a training writes: JSON or YAML, DVC metrics files too.

A metric is a number reached by a path of keys; nested keys are joined with
`.` (`{"val": {"f1": 0.9}}` gives `val.f1`), as DVC shows them. Strings,
booleans and lists are not metrics and are skipped. NaN and Infinity are
refused with the name of the metric, never passed on as a value: a gate that
read them would compare against nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelship.ci.errors import GateFailed

_NON_FINITE_WORDS = {
    "nan",
    "+nan",
    "-nan",
    "inf",
    "+inf",
    "-inf",
    "infinity",
    "+infinity",
    "-infinity",
}


class MetricsFileError(GateFailed):
    """The metrics file is missing, unreadable, or holds a non-finite metric (exit 1)."""


class _NonFinite:
    """What JSON's `NaN`/`Infinity` tokens parse to, so the walk can name the metric."""

    def __init__(self, token: str) -> None:
        self.token = token


def read_metrics(path: Path, shown: str | None = None) -> dict[str, float]:
    """The finite numeric metrics in a JSON or YAML file, flattened.

    Raises `MetricsFileError` when the file is missing or malformed, or when a
    metric is NaN or infinite (the message names the metric and the file).
    """
    name = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetricsFileError(
            f"metrics file {name} was not written",
            "make the training write it, or change the metrics-file input",
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise MetricsFileError(f"cannot read metrics file {name}: {err}") from None
    return parse_metrics(text, name, yaml_syntax=path.suffix.lower() in (".yaml", ".yml"))


def parse_metrics(text: str, name: str, yaml_syntax: bool = False) -> dict[str, float]:
    """Parse metrics text; JSON unless `yaml_syntax` (YAML is read with safe_load)."""
    document: Any
    if yaml_syntax:
        import yaml

        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise MetricsFileError(f"metrics file {name} is not valid YAML: {err}") from None
    else:
        try:
            document = json.loads(text, parse_constant=_NonFinite)
        except ValueError as err:
            raise MetricsFileError(f"metrics file {name} is not valid JSON: {err}") from None
    if not isinstance(document, Mapping):
        raise MetricsFileError(
            f"metrics file {name} must hold an object of metric names and values",
            'e.g. {"accuracy": 0.93, "f1": 0.91}',
        )
    metrics: dict[str, float] = {}
    _walk(document, "", name, metrics)
    return metrics


def check_finite(metrics: Mapping[str, float], where: str) -> None:
    """Refuse a NaN or infinite value, naming the first such metric."""
    for key, value in metrics.items():
        if not math.isfinite(value):
            raise MetricsFileError(
                f"metric {key!r} in {where} is {value}, not a finite number",
                "fix the training so the metric is computed on non-empty data",
            )


def _walk(node: Mapping[Any, Any], prefix: str, name: str, out: dict[str, float]) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _walk(value, path + ".", name, out)
        elif isinstance(value, _NonFinite) or (
            isinstance(value, str) and value.strip().lower() in _NON_FINITE_WORDS
        ):
            token = value.token if isinstance(value, _NonFinite) else value.strip()
            raise MetricsFileError(
                f"metric {path!r} in {name} is {token}, not a finite number",
                "fix the training so the metric is computed on non-empty data",
            )
        elif isinstance(value, bool):
            continue
        elif isinstance(value, (int, float)):
            number = float(value)
            if not math.isfinite(number):
                raise MetricsFileError(
                    f"metric {path!r} in {name} is {value}, not a finite number",
                    "fix the training so the metric is computed on non-empty data",
                )
            out[path] = number
