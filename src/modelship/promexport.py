"""Prometheus metrics of a monitor run: text exposition, textfile, Pushgateway.

The text follows the Prometheus exposition format 0.0.4: one `# HELP` and
`# TYPE` per family, label values escaped (backslash, double quote, newline),
no timestamps (the Pushgateway refuses them). Pushes replace the group
`job/<metrics-job>/model/<model>` with PUT, so a feature that disappears from
the data also disappears from Prometheus.
"""

from __future__ import annotations

import base64
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass
class Family:
    name: str
    help: str
    type: str = "gauge"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, labels: Mapping[str, str], value: float) -> None:
        self.samples.append((dict(labels), float(value)))


@dataclass
class Registry:
    families: dict[str, Family] = field(default_factory=dict)

    def family(self, name: str, help_text: str, kind: str = "gauge") -> Family:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        if name not in self.families:
            self.families[name] = Family(name, help_text, kind)
        return self.families[name]

    def render(self) -> str:
        lines: list[str] = []
        for family in self.families.values():
            if not family.samples:
                continue
            lines.append(f"# HELP {family.name} {escape_help(family.help)}")
            lines.append(f"# TYPE {family.name} {family.type}")
            for labels, value in family.samples:
                lines.append(f"{family.name}{_labels(labels)} {format_value(value)}")
        return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    for key in labels:
        if not _LABEL_NAME.match(key) or key.startswith("__"):
            raise ValueError(f"invalid label name {key!r}")
    inner = ",".join(f'{key}="{escape_label_value(str(val))}"' for key, val in labels.items())
    return "{" + inner + "}"


# -- the monitor's metrics ----------------------------------------------------------
@dataclass(frozen=True)
class FeatureScore:
    feature: str
    method: str
    score: float
    threshold: float
    drifted: bool


def monitor_registry(
    model: str,
    features: Sequence[FeatureScore],
    *,
    dataset_drift: bool,
    drift_share: float,
    retrain: bool,
    performance: Mapping[str, tuple[float, float]] | None = None,
    performance_drop: float | None = None,
    timestamp: float | None = None,
) -> Registry:
    """The families a monitor run publishes. `performance`: metric -> (reference, current)."""
    reg = Registry()
    score = reg.family(
        "modelship_feature_drift_score",
        "Drift score per feature: the p-value for ks/chi2/z, the distance for psi, "
        "jensen-shannon and wasserstein (see modelship_feature_drifted for the decision).",
    )
    flag = reg.family("modelship_feature_drifted", "1 when the feature drifted, else 0.")
    limit = reg.family("modelship_feature_drift_threshold", "Threshold the score is compared with.")
    for item in features:
        labels = {"model": model, "feature": item.feature, "method": item.method}
        score.add(labels, item.score)
        flag.add(labels, 1.0 if item.drifted else 0.0)
        limit.add(labels, item.threshold)
    reg.family(
        "modelship_dataset_drift", "1 when the share of drifted features passed drift-share."
    ).add({"model": model}, 1.0 if dataset_drift else 0.0)
    reg.family("modelship_drift_share", "Share of compared features that drifted (0 to 1).").add(
        {"model": model}, drift_share
    )
    reg.family("modelship_drifted_features", "Number of drifted features.").add(
        {"model": model}, float(sum(f.drifted for f in features))
    )
    reg.family("modelship_retrain", "1 when the monitor asked for retraining.").add(
        {"model": model}, 1.0 if retrain else 0.0
    )
    if performance:
        perf = reg.family(
            "modelship_model_performance", "Model performance on labelled data, by data set."
        )
        for metric, (reference, current) in performance.items():
            perf.add({"model": model, "metric": metric, "dataset": "reference"}, reference)
            perf.add({"model": model, "metric": metric, "dataset": "current"}, current)
    if performance_drop is not None:
        reg.family(
            "modelship_performance_drop",
            "Relative drop of the performance metric from reference to current (0.1 = 10% worse).",
        ).add({"model": model}, performance_drop)
    if timestamp is not None:
        reg.family(
            "modelship_monitor_last_run_timestamp_seconds", "When the monitor last ran (Unix time)."
        ).add({"model": model}, timestamp)
    return reg


# -- delivery -----------------------------------------------------------------------------
def write_textfile(path: Path, text: str) -> None:
    """Atomic write (the node-exporter textfile collector may read at any moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _path_segment(name: str, value: str) -> str:
    """A grouping-key segment; base64 when the value has a slash or is empty."""
    if value == "" or "/" in value:
        encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")
        return f"{name}@base64/{encoded or '='}"
    return f"{name}/{quote(value, safe='')}"


def grouping_url(base_url: str, job: str, grouping: Iterable[tuple[str, str]]) -> str:
    url = base_url.rstrip("/") + "/metrics/" + _path_segment("job", job)
    for name, value in grouping:
        url += "/" + _path_segment(name, value)
    return url


class PushError(RuntimeError):
    pass


def push(
    base_url: str,
    job: str,
    grouping: Iterable[tuple[str, str]],
    text: str,
    timeout: float = 15.0,
) -> str:
    """PUT the metrics to a Pushgateway; returns the group URL."""
    import requests

    url = grouping_url(base_url, job, grouping)
    try:
        response = requests.put(
            url,
            data=text.encode("utf-8"),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
            timeout=timeout,
        )
    except requests.RequestException as err:
        raise PushError(f"cannot reach the Pushgateway: {type(err).__name__}") from None
    if response.status_code >= 300:
        raise PushError(
            f"the Pushgateway answered HTTP {response.status_code}: {response.text[:200].strip()}"
        )
    return url
