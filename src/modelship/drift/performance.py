"""Prediction drift and performance drift: score both data sets with the model.

Only used when the monitor gets a `model-uri`. Needs MLflow and pandas (the
model's `predict` takes a DataFrame), which the numeric drift path never loads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modelship.drift import check, load


@dataclass
class Performance:
    metric: str | None = None  # "accuracy" (higher is better) or "rmse" (lower is better)
    reference: float | None = None
    current: float | None = None
    prediction: check.FeatureResult | None = None

    @property
    def drop(self) -> float | None:
        """Relative worsening from reference to current: 0.1 means 10% worse."""
        if self.reference is None or self.current is None or self.metric is None:
            return None
        if self.metric == "accuracy":
            return (self.reference - self.current) / self.reference if self.reference else 0.0
        return (self.current - self.reference) / self.reference if self.reference else 0.0


def _frame(path: Path, columns: Sequence[str]) -> Any:
    loaded = load.read(path, list(columns))
    return pa.table({name: loaded.arrow(name) for name in loaded.names}).to_pandas()


def _is_classification(values: Any) -> bool:
    array = np.asarray(values)
    if array.dtype.kind in "OUSb":
        return True
    if array.dtype.kind in "iu":
        return len(np.unique(array)) <= 50
    finite = array[np.isfinite(array)]
    return bool(finite.size and np.all(finite == np.round(finite)) and len(np.unique(finite)) <= 20)


def _score(kind: str, truth: Any, predicted: Any) -> float:
    truth = np.asarray(truth)
    predicted = np.asarray(predicted).reshape(len(truth), -1)[:, 0]
    if kind == "accuracy":
        return float(np.mean(truth.astype(str) == predicted.astype(str)))
    return float(math.sqrt(np.mean((truth.astype(float) - predicted.astype(float)) ** 2)))


def prediction_drift(
    ref_pred: Any, cur_pred: Any, method: str, threshold: float | None
) -> check.FeatureResult:
    ref_arr = np.asarray(ref_pred).reshape(len(ref_pred), -1)[:, 0]
    cur_arr = np.asarray(cur_pred).reshape(len(cur_pred), -1)[:, 0]
    if ref_arr.dtype.kind in "fiu" and cur_arr.dtype.kind in "fiu":
        a = np.sort(ref_arr.astype(np.float64))
        b = np.sort(cur_arr.astype(np.float64))
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        col = check.NumericColumn("prediction", a, b, len(ref_arr) - a.size, len(cur_arr) - b.size)
        if min(a.size, b.size) == 0:
            raise load.DataError("the model gave no finite prediction for one of the data sets")
        result = check.numeric_result(col, method, threshold)
        if result.method == "ks":
            check.finish_ks(result, check.exact_ks_samples(col))
    else:
        labels = sorted({*map(str, ref_arr), *map(str, cur_arr)})
        index = {label: i for i, label in enumerate(labels)}
        ref_counts = np.bincount([index[str(v)] for v in ref_arr], minlength=len(labels))
        cur_counts = np.bincount([index[str(v)] for v in cur_arr], minlength=len(labels))
        cat = check.CategoricalColumn("prediction", labels, ref_counts, cur_counts, 0, 0)
        result = check.categorical_result(cat, method, threshold)
    result.drifted = check.drifted(result.method, result.score, result.threshold)
    return result


def evaluate(
    model: Any,
    reference: Path,
    current: Path,
    *,
    features: Sequence[str],
    target: str | None,
    method: str,
    threshold: float | None,
) -> Performance:
    """Score both sets with a loaded pyfunc model; compare predictions and, with labels, scores."""
    ref_cols = [*features, *([target] if target else [])]
    ref_frame = _frame(reference, ref_cols)
    cur_frame = _frame(current, list(ref_cols))
    ref_pred = model.predict(ref_frame[list(features)])
    cur_pred = model.predict(cur_frame[list(features)])
    perf = Performance(prediction=prediction_drift(ref_pred, cur_pred, method, threshold))
    if target and target in ref_frame.columns and target in cur_frame.columns:
        truth_ref = ref_frame[target].to_numpy()
        truth_cur = cur_frame[target].to_numpy()
        perf.metric = "accuracy" if _is_classification(truth_ref) else "rmse"
        perf.reference = _score(perf.metric, truth_ref, ref_pred)
        perf.current = _score(perf.metric, truth_cur, cur_pred)
    return perf
