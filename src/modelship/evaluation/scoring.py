"""Scoring a candidate and a champion on the same validation rows.

Loads the data (CSV, Parquet or JSON Lines), splits off the label column,
loads each model through MLflow's pyfunc interface (and its raw estimator for
class probabilities when it has `predict_proba`), and computes the metrics.

Everything that would make a comparison meaningless fails closed here, with a
message naming the cause: no rows, no label column, missing labels, a model
that returns a different number of predictions than rows, missing or
non-finite predictions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modelship.ci.errors import ExternalError, GateFailed, ModelshipError, UsageError
from modelship.evaluation.bootstrap import (
    ALL_METRICS,
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    Classified,
    Task,
    classification_metrics,
    default_metrics,
    regression_metrics,
)

Who = Literal["candidate", "champion"]
# An integer label column with more distinct values than this is a regression target.
MAX_AUTO_CLASSES = 20


def load_table(path: Path) -> Any:
    """The validation data as a pandas DataFrame; the format comes from the suffix."""
    import pandas as pd

    if path.is_dir():
        raise UsageError(f"data file {path} is a directory, not a file", "check the `data` input")
    if not path.is_file():
        raise UsageError(f"data file {path} does not exist", "check the `data` input")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if suffix in (".csv", ".csv.gz"):
            frame = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson", ".jsonl.gz"):
            frame = pd.read_json(path, lines=True)
        else:
            raise UsageError(
                f"data file {path.name}: unknown format {suffix or '(no suffix)'}",
                "use .csv, .parquet or .jsonl",
            )
    except UsageError:
        raise
    except pd.errors.EmptyDataError:
        raise UsageError(f"data file {path.name} is empty: no rows to evaluate on") from None
    except (ValueError, OSError, ImportError) as err:
        raise UsageError(f"data file {path.name} could not be read: {err}") from None
    if len(frame) == 0:
        raise UsageError(f"data file {path.name} has no rows to evaluate on")
    return frame


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def split_target(frame: Any, target: str) -> tuple[Any, np.ndarray]:
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:20]))
        raise UsageError(
            f"label column {target!r} is not in the data (columns: {shown})",
            "set `target` to the label column",
        )
    y = frame[target]
    missing = int(y.isna().sum())
    if missing:
        raise UsageError(f"label column {target!r} has {missing} missing values")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise UsageError(f"the data has no feature columns besides {target!r}")
    return features, y.to_numpy()


def detect_task(y: np.ndarray) -> Task:
    if y.dtype.kind in "biu" or y.dtype.kind == "O" or y.dtype.kind in "USb":
        if y.dtype.kind in "OUSb":
            return "classification"
        return "classification" if len(np.unique(y)) <= MAX_AUTO_CLASSES else "regression"
    if y.dtype.kind == "f":
        integral = bool(np.all(np.mod(y, 1) == 0))
        if integral and len(np.unique(y)) <= MAX_AUTO_CLASSES:
            return "classification"
    return "regression"


@dataclass
class Scored:
    """What one model said about the rows."""

    who: Who
    uri: str
    predictions: np.ndarray
    probabilities: np.ndarray | None = None  # (rows, classes) when the model has predict_proba
    classes: list[Any] = field(default_factory=list)  # column order of `probabilities`


def load_model(client: Any, uri: str, who: Who, tracking_uri: str) -> Any:
    """The model at `uri`, fetched from the given tracking server and registry.

    The model's files are located through `client` and downloaded with the URI
    passed explicitly, never through MLflow's process-wide URIs, so loading does
    not depend on (or change) what the rest of the process talks to.
    """
    import contextlib
    import io

    import mlflow.artifacts
    import mlflow.pyfunc

    from modelship.tracking.models import model_files

    try:
        location = model_files(client, uri)
        # MLflow draws a download progress bar on stderr; a CI log needs none.
        with contextlib.redirect_stderr(io.StringIO()):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=location, tracking_uri=tracking_uri, registry_uri=tracking_uri
            )
        return mlflow.pyfunc.load_model(local)
    except ModelshipError:
        raise
    except Exception as err:
        from modelship.tracking.client import refusal_hint

        raise ExternalError(
            f"could not load the {who} model {uri}: {err}", refusal_hint(err)
        ) from None


def score(model: Any, uri: str, features: Any, who: Who, task: Task) -> Scored:
    rows = len(features)
    try:
        raw = model.predict(features)
    except Exception as err:
        raise GateFailed(f"the {who} model {uri} failed to predict: {err}") from None
    predictions = _as_column(raw, who, rows)
    scored = Scored(who, uri, predictions)
    if task == "classification":
        estimator = None
        try:
            estimator = model.get_raw_model()
        except Exception:  # not every flavour exposes its raw model
            estimator = None
        if estimator is not None and hasattr(estimator, "predict_proba"):
            try:
                proba = np.asarray(estimator.predict_proba(features), dtype=np.float64)
            except Exception:  # e.g. SVC(probability=False): no scores, no roc_auc
                proba = None
            if proba is not None and proba.ndim == 2 and proba.shape[0] == rows:
                scored.probabilities = proba
                scored.classes = list(getattr(estimator, "classes_", range(proba.shape[1])))
    return scored


def _as_column(raw: Any, who: Who, rows: int) -> np.ndarray:
    values = raw.to_numpy() if hasattr(raw, "to_numpy") else np.asarray(raw)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise GateFailed(
            f"the {who} model returned predictions of shape {values.shape}; expected one per row"
        )
    if values.shape[0] != rows:
        raise GateFailed(
            f"the {who} model returned {values.shape[0]} predictions for {rows} rows",
            "the prediction count must match the rows of the validation data",
        )
    return values


def _canonical(values: np.ndarray) -> np.ndarray:
    """Labels comparable across the data and both models: numbers as floats, else strings."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.asarray([str(v) for v in values], dtype=object)


def _missing(values: np.ndarray) -> int:
    if values.dtype.kind == "f":
        return int(np.count_nonzero(~np.isfinite(values)))
    return int(sum(1 for v in values if v is None or (isinstance(v, float) and not np.isfinite(v))))


@dataclass
class Encoded:
    """Labels of the data and the models as integer codes over one class list."""

    y: np.ndarray
    classes: list[Any]
    models: dict[Who, Classified]

    @property
    def n_classes(self) -> int:
        return max(2, len(self.classes))


def encode_classification(y: np.ndarray, scored: Sequence[Scored]) -> Encoded:
    for model in scored:
        bad = _missing(model.predictions)
        if bad:
            raise GateFailed(
                f"the {model.who} model returned {bad} missing or non-finite predictions"
            )
    truth = _canonical(y)
    predicted = {m.who: _canonical(m.predictions) for m in scored}
    kinds = {truth.dtype.kind, *(p.dtype.kind for p in predicted.values())}
    if len(kinds) > 1:  # numbers in one place, text in another: compare as text
        truth = np.asarray([label_text(v) for v in truth], dtype=object)
        predicted = {
            k: np.asarray([label_text(v) for v in p], dtype=object) for k, p in predicted.items()
        }
    classes = sorted(set(truth.tolist()).union(*(set(p.tolist()) for p in predicted.values())))
    index = {label: code for code, label in enumerate(classes)}
    codes_y = np.fromiter((index[v] for v in truth.tolist()), dtype=np.int64, count=truth.size)
    models: dict[Who, Classified] = {}
    for model in scored:
        labels = predicted[model.who]
        codes = np.fromiter((index[v] for v in labels.tolist()), dtype=np.int64, count=labels.size)
        models[model.who] = Classified(codes, _positive_scores(model, classes, truth.dtype.kind))
    return Encoded(codes_y, classes, models)


def label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _positive_scores(model: Scored, classes: list[Any], kind: str) -> np.ndarray | None:
    """P(positive class) for binary tasks; the positive class is the last of the two."""
    if model.probabilities is None or len(classes) != 2:
        return None
    positive = classes[-1]
    for column, label in enumerate(model.classes):
        canon = _canonical(np.asarray([label]))[0]
        if kind == "O":
            canon = label_text(canon)
        if canon == positive:
            scores = model.probabilities[:, column]
            return scores if bool(np.all(np.isfinite(scores))) else None
    return None


def regression_values(scored: Scored) -> np.ndarray:
    try:
        values = scored.predictions.astype(np.float64)
    except (TypeError, ValueError):
        raise GateFailed(f"the {scored.who} model returned non-numeric predictions") from None
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise GateFailed(f"the {scored.who} model returned {bad} NaN or infinite predictions")
    return values


def check_metrics_apply(task: Task, names: Sequence[str]) -> None:
    """Refuse a metric of the other task (known from the data, before any model is loaded)."""
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    for name in sorted({n.lower() for n in names}):
        if name not in allowed:
            raise UsageError(
                f"metric {name!r} does not apply to {task}",
                f"{task} metrics: {', '.join(allowed)}",
            )


def requested_metrics(
    task: Task, n_classes: int, given: Sequence[str], from_rules: Sequence[str]
) -> tuple[list[str], set[str]]:
    """The metrics to compute, and which of them the user asked for explicitly."""
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    explicit = {m.lower() for m in given} | set(from_rules)
    for name in sorted(explicit):
        if name not in ALL_METRICS:
            raise UsageError(f"unknown metric {name!r}", f"known metrics: {', '.join(ALL_METRICS)}")
        if name not in allowed:
            raise UsageError(
                f"metric {name!r} does not apply to {task}",
                f"{task} metrics: {', '.join(allowed)}",
            )
        if name == "roc_auc" and n_classes > 2:
            raise UsageError("roc_auc is computed for binary classification only")
    base = [m.lower() for m in given] or list(default_metrics(task, n_classes))
    names = list(dict.fromkeys([*base, *from_rules]))
    return names, explicit if given else set(from_rules)


def metrics_of(
    task: Task, y: np.ndarray, model: Classified | np.ndarray, n_classes: int, names: Sequence[str]
) -> dict[str, float]:
    if task == "regression":
        assert isinstance(model, np.ndarray)
        return regression_metrics(y, model, names)
    assert isinstance(model, Classified)
    return classification_metrics(y, model, n_classes, names)


def confusion(y: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    cells = y * n_classes + labels
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
