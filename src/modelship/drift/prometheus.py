"""Prometheus metrics of a monitor run, through `prometheus_client`.

The metrics live in a `CollectorRegistry` of gauges; `prometheus_client`
writes the exposition format (escaping, values), the textfile for the
node-exporter collector (`write_to_textfile`, atomic), and the push to a
Pushgateway (`push_to_gateway`, i.e. PUT: the group `job/<metrics-job>/model/<model>`
is replaced, so a feature that disappears from the data also disappears from
Prometheus; grouping-key values with a slash are base64-encoded by the
library). A password in the Pushgateway URL is taken out of the URL and sent
as HTTP basic auth through the library's `basic_auth_handler`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler, push_to_gateway


@dataclass(frozen=True)
class FeatureScore:
    feature: str
    method: str
    score: float
    threshold: float
    drifted: bool


FEATURE_LABELS = ("model", "feature", "method")


def _gauge(registry: CollectorRegistry, name: str, help_text: str, *labels: str) -> Gauge:
    return Gauge(name, help_text, labels or ("model",), registry=registry)


def monitor_registry(
    model: str,
    features: Sequence[FeatureScore],
    *,
    dataset_drift: bool | None,
    drift_share: float,
    retrain: bool | None,
    not_judged: int = 0,
    performance: Mapping[str, tuple[float, float]] | None = None,
    performance_drop: float | None = None,
    timestamp: float | None = None,
) -> CollectorRegistry:
    """The gauges a monitor run publishes. `performance`: metric -> (reference, current).

    `features` holds the judged features only. When the data could not be
    judged (`dataset_drift` None), `modelship_dataset_drift` has no sample:
    an unknown is not a 0; `modelship_features_not_judged` says why.
    """
    reg = CollectorRegistry(auto_describe=True)
    _feature_gauges(reg, model, features)
    if dataset_drift is not None:
        _gauge(
            reg,
            "modelship_dataset_drift",
            "1 when the share of drifted features passed drift-share.",
        ).labels(model).set(1.0 if dataset_drift else 0.0)
    _gauge(reg, "modelship_drift_share", "Share of judged features that drifted (0 to 1).").labels(
        model
    ).set(drift_share)
    _gauge(reg, "modelship_drifted_features", "Number of drifted features.").labels(model).set(
        float(sum(f.drifted for f in features))
    )
    _gauge(
        reg,
        "modelship_features_not_judged",
        "Features the monitor could not judge (too few values, unsupported type).",
    ).labels(model).set(float(not_judged))
    if retrain is not None:
        _gauge(reg, "modelship_retrain", "1 when the monitor asked for retraining.").labels(
            model
        ).set(1.0 if retrain else 0.0)
    _performance_gauges(reg, model, performance, performance_drop)
    if timestamp is not None:
        _gauge(
            reg,
            "modelship_monitor_last_run_timestamp_seconds",
            "When the monitor last ran (Unix time).",
        ).labels(model).set(timestamp)
    return reg


def _feature_gauges(reg: CollectorRegistry, model: str, features: Sequence[FeatureScore]) -> None:
    score = _gauge(
        reg,
        "modelship_feature_drift_score",
        "Drift score per feature: the p-value for ks/chi2/z, the distance for psi, "
        "jensen-shannon and wasserstein, the missing-share rise for missing-share "
        "(see modelship_feature_drifted for the decision).",
        *FEATURE_LABELS,
    )
    flag = _gauge(
        reg, "modelship_feature_drifted", "1 when the feature drifted, else 0.", *FEATURE_LABELS
    )
    limit = _gauge(
        reg,
        "modelship_feature_drift_threshold",
        "Threshold the score is compared with.",
        *FEATURE_LABELS,
    )
    for item in features:
        labels = (model, item.feature, item.method)
        score.labels(*labels).set(item.score)
        flag.labels(*labels).set(1.0 if item.drifted else 0.0)
        limit.labels(*labels).set(item.threshold)


def _performance_gauges(
    reg: CollectorRegistry,
    model: str,
    performance: Mapping[str, tuple[float, float]] | None,
    performance_drop: float | None,
) -> None:
    if performance:
        perf = _gauge(
            reg,
            "modelship_model_performance",
            "Model performance on labelled data, by data set.",
            "model",
            "metric",
            "dataset",
        )
        for metric, (reference, current) in performance.items():
            perf.labels(model, metric, "reference").set(reference)
            perf.labels(model, metric, "current").set(current)
    if performance_drop is not None:
        _gauge(
            reg,
            "modelship_performance_drop",
            "Relative drop of the performance metric from reference to current (0.1 = 10% worse).",
        ).labels(model).set(performance_drop)


def metric_names(registry: CollectorRegistry) -> set[str]:
    return {family.name for family in registry.collect()}


def exposition(registry: CollectorRegistry) -> str:
    """The registry in the Prometheus text format."""
    return generate_latest(registry).decode("utf-8")


# -- delivery -----------------------------------------------------------------------------
def write_textfile(path: Path, registry: CollectorRegistry) -> None:
    """Atomic write (the node-exporter textfile collector may read at any moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def url_password(url: str) -> str | None:
    """The password in the URL's user-info, decoded, if there is one."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _host_port(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    return shown + (f":{port}" if port else "")


class PushError(RuntimeError):
    """The push failed; the message never contains the URL's password."""


Handler = Callable[[str, str, float | None, list[tuple[str, str]], bytes], Callable[[], None]]


def _without_credentials(url: str) -> tuple[str, Handler]:
    """The gateway URL without user-info, and the handler that sends it as basic auth."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url.rstrip("/"), default_handler
    netloc = _host_port(parts.hostname or "", parts.port)
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    bare = bare.rstrip("/")
    username, password = unquote(parts.username or ""), unquote(parts.password or "")

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, username, password)

    return bare, handler


def push(
    base_url: str,
    job: str,
    grouping: Mapping[str, str],
    registry: CollectorRegistry,
    timeout: float = 15.0,
) -> None:
    """Replace the group `job/<job>/<grouping...>` on a Pushgateway with the registry."""
    gateway, handler = _without_credentials(base_url)
    try:
        push_to_gateway(
            gateway,
            job=job,
            registry=registry,
            grouping_key=dict(grouping),
            timeout=timeout,
            handler=handler,
        )
    except Exception as err:  # urllib raises URLError, HTTPError, OSError, ValueError
        raise PushError(_push_failure(err)) from None


def _push_failure(err: Any) -> str:
    # The library's and urllib's messages carry the URL: name the failure only.
    code = getattr(err, "code", None)
    if code is not None:
        return f"the Pushgateway answered HTTP {code}"
    text = str(err)
    if text.startswith("error talking to pushgateway: "):
        return "the Pushgateway answered " + text.split(": ", 1)[1][:80]
    return f"cannot reach the Pushgateway ({type(err).__name__})"
