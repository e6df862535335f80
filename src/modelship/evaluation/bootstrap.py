"""Metrics and a vectorised paired bootstrap: candidate minus champion on the same rows.

The bootstrap never loops over resamples in Python with a metric call per
resample. Each metric is written as a function of *sufficient statistics*
that are sums over rows, so a resample is a vector of row weights and a whole
chunk of resamples is a few array operations:

* accuracy, precision, recall, f1 (binary, or macro over classes): each row
  falls in one cell (true label, candidate label, champion label). The metrics
  of both models are functions of the cell counts, and resampling n rows with
  replacement is exactly a multinomial draw of n over the observed cells. That
  costs O(resamples x cells), independent of the number of rows.
* roc_auc (binary): rows are grouped by (score rank, label); resampled group
  counts come from one `bincount` per chunk, and the Mann-Whitney statistic is
  a cumulative sum over the groups. Ties count one half, as scikit-learn does.
* rmse, mse, mae, r2: weighted sums of per-row terms, one matrix product per chunk.

Memory stays bounded: resamples are processed in chunks so that no array holds
more than `max_elements` entries. numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Task = Literal["classification", "regression"]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("rmse", "mse", "mae", "r2")
ALL_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "rmse": False,
    "mse": False,
    "mae": False,
    "r2": True,
}
CELL_METRICS = ("accuracy", "precision", "recall", "f1")

# About 32 MiB per int64/float64 array.
DEFAULT_MAX_ELEMENTS = 1 << 22


def default_metrics(task: Task, n_classes: int) -> tuple[str, ...]:
    if task == "regression":
        return ("rmse", "mae", "r2")
    if n_classes <= 2:
        return CLASSIFICATION_METRICS
    return CELL_METRICS


@dataclass(frozen=True)
class Classified:
    """Predictions of one model, encoded against the shared class list."""

    labels: np.ndarray  # int codes 0..C-1, one per row
    scores: np.ndarray | None = None  # P(positive class), binary only


@dataclass(frozen=True)
class Samples:
    """Bootstrap distribution of one metric for both models, resample by resample."""

    candidate: np.ndarray
    champion: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        delta: np.ndarray = self.candidate - self.champion
        return delta


@dataclass(frozen=True)
class DeltaStats:
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float
    resamples: int


# --- the metric kernels: sufficient statistics -> metric, for a batch ------------


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's zero_division default)."""
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _confusion_metrics(cm: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Metrics from a batch of confusion matrices `cm[b, true, predicted]`."""
    n_classes = cm.shape[1]
    total = cm.sum(axis=(1, 2)).astype(np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(np.float64)
    predicted = cm.sum(axis=1).astype(np.float64)
    actual = cm.sum(axis=2).astype(np.float64)
    out: dict[str, np.ndarray] = {}
    if "accuracy" in metrics:
        out["accuracy"] = _ratio(tp.sum(axis=1), total)
    if n_classes == 2:
        # Binary: the positive class is the second one (scikit-learn's pos_label=1).
        per = {
            "precision": _ratio(tp[:, 1], predicted[:, 1]),
            "recall": _ratio(tp[:, 1], actual[:, 1]),
            "f1": _ratio(2 * tp[:, 1], predicted[:, 1] + actual[:, 1]),
        }
    else:
        # Macro average over the classes present in the truth or the predictions,
        # as scikit-learn's `average="macro"` with labels=None does.
        present = (predicted + actual) > 0
        count = present.sum(axis=1)

        def macro(values: np.ndarray) -> np.ndarray:
            return _ratio((values * present).sum(axis=1), count)

        per = {
            "precision": macro(_ratio(tp, predicted)),
            "recall": macro(_ratio(tp, actual)),
            "f1": macro(_ratio(2 * tp, predicted + actual)),
        }
    for name in ("precision", "recall", "f1"):
        if name in metrics:
            out[name] = per[name]
    return out


@dataclass(frozen=True)
class _RankedScores:
    """Rows in increasing score order, with the starts of runs of tied scores."""

    take: np.ndarray | None  # weight positions in score order; None: already in order
    labels: np.ndarray  # labels in score order, uint8 0/1
    starts: np.ndarray | None  # starts of tied runs; None when all scores differ


def _ranked(labels: np.ndarray, scores: np.ndarray, base: np.ndarray | None) -> _RankedScores:
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    changes = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    starts = None if changes.size == ordered.size - 1 else np.concatenate([[0], changes])
    take = order if base is None else base[order]
    return _RankedScores(take, labels[order].astype(np.uint8), starts)


def _auc_weighted(weights: np.ndarray, ranked: _RankedScores) -> np.ndarray:
    """ROC AUC for a batch of row weights `weights[b, row]` (the Mann-Whitney U).

    Ties count one half, as scikit-learn does. Integer arithmetic throughout,
    so the point estimate equals scikit-learn's exactly. Large inputs are
    processed one resample at a time (each still a handful of O(rows) array
    operations): a 1-D gather of small integers stays in cache where a 2-D
    fancy index over many rows does not.
    """
    m, n = weights.shape
    step = m if n <= 1 << 16 else 1
    # Sums of weights stay <= total weight; products of a (tied) group's positives
    # with the negatives below can reach total^2 / 2: pick exact integer types.
    top = int(weights.max(initial=0))
    total = max(top, 1) * n
    wide = np.int32 if 2 * total + 1 < 2**31 else np.int64
    single = ranked.starts is None and (2 * total + 1) * max(top, 1) < 2**31
    product = np.int32 if single else np.int64
    out = np.full(m, np.nan)
    for first in range(0, m, step):
        w = weights[first : first + step]
        if ranked.take is not None:
            w = np.take(w, ranked.take, axis=1)
        pos = w * ranked.labels
        neg = w - pos
        if ranked.starts is not None:
            pos = np.add.reduceat(pos, ranked.starts, axis=1, dtype=wide)
            neg = np.add.reduceat(neg, ranked.starts, axis=1, dtype=wide)
        # 2 * (negatives strictly below) + (negatives tied) = 2 * cumsum - neg.
        below = np.cumsum(neg, axis=1, dtype=wide)
        below *= 2
        below -= neg
        twice_u = np.multiply(pos, below, dtype=product).sum(axis=1, dtype=np.int64)
        den = 2.0 * pos.sum(axis=1, dtype=np.int64) * neg.sum(axis=1, dtype=np.int64)
        np.divide(twice_u, den, out=out[first : first + step], where=den > 0)
    return out


def _regression_from_sums(
    sums: np.ndarray, prefix: int, metrics: Sequence[str]
) -> dict[str, np.ndarray]:
    """Regression metrics from weighted sums; see `_regression_terms` for the columns."""
    weight, y_sum, y_sq = sums[:, 0], sums[:, 1], sums[:, 2]
    sq_err, abs_err = sums[:, 3 + 2 * prefix], sums[:, 4 + 2 * prefix]
    mse = _ratio(sq_err, weight)
    out: dict[str, np.ndarray] = {}
    if "mse" in metrics:
        out["mse"] = mse
    if "rmse" in metrics:
        out["rmse"] = np.sqrt(mse)
    if "mae" in metrics:
        out["mae"] = _ratio(abs_err, weight)
    if "r2" in metrics:
        total = y_sq - _ratio(y_sum * y_sum, weight)
        total = np.where(np.abs(total) < 1e-12 * np.maximum(y_sq, 1e-300), 0.0, total)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = 1.0 - sq_err / total
        # scikit-learn (force_finite): a constant truth scores 1 when predicted exactly, else 0.
        r2 = np.where(total > 0, r2, np.where(sq_err == 0, 1.0, 0.0))
        out["r2"] = r2
    return out


def _regression_terms(y: np.ndarray, predictions: Sequence[np.ndarray]) -> np.ndarray:
    """Per-row terms whose weighted sums give every regression metric.

    Columns: 1, y, y^2 (y centred, for a stable r2), then per model e^2, |e|.
    """
    y = y.astype(np.float64)
    centred = y - y.mean()
    columns = [np.ones_like(y), centred, centred * centred]
    for pred in predictions:
        err = pred.astype(np.float64) - y
        columns += [err * err, np.abs(err)]
    return np.column_stack(columns)


# --- point estimates ------------------------------------------------------------


def classification_metrics(
    y: np.ndarray, model: Classified, n_classes: int, metrics: Sequence[str]
) -> dict[str, float]:
    """Metrics of one model on all rows; same kernels as the bootstrap."""
    cells = y.astype(np.int64) * n_classes + model.labels.astype(np.int64)
    cm = np.bincount(cells, minlength=n_classes * n_classes).reshape(1, n_classes, n_classes)
    out = {k: float(v[0]) for k, v in _confusion_metrics(cm, metrics).items()}
    if "roc_auc" in metrics and model.scores is not None and n_classes == 2:
        ranked = _ranked(y, model.scores, None)
        ones = np.ones((1, y.shape[0]), dtype=np.uint8)
        out["roc_auc"] = float(_auc_weighted(ones, ranked)[0])
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
    sums = _regression_terms(y, [pred]).sum(axis=0, keepdims=True)
    return {k: float(v[0]) for k, v in _regression_from_sums(sums, 0, metrics).items()}


# --- the paired bootstrap -------------------------------------------------------


def _chunks(total: int, per_resample: int, max_elements: int) -> list[int]:
    size = max(1, max_elements // max(per_resample, 1))
    sizes = [size] * (total // size)
    if total % size:
        sizes.append(total % size)
    return sizes


def _resampled_weights(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Row weights of m resamples of n rows drawn with replacement (multinomial counts).

    Small integers (a row is drawn about once): uint8 unless a count says otherwise.
    """
    idx = rng.integers(0, n, size=(m, n), dtype=np.int32 if n < 2**31 else np.int64)
    counts = [np.bincount(row, minlength=n) for row in idx]
    top = max(int(c.max(initial=0)) for c in counts)
    weights = np.empty((m, n), dtype=np.min_scalar_type(top))
    for row, c in enumerate(counts):
        weights[row] = c
    return weights


def paired_classification(
    y: np.ndarray,
    candidate: Classified,
    champion: Classified,
    n_classes: int,
    metrics: Sequence[str],
    *,
    resamples: int,
    seed: int | None = 0,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> dict[str, Samples]:
    """Bootstrap distributions of each metric for both models on the same resamples."""
    rng = np.random.default_rng(seed)
    out: dict[str, Samples] = {}
    cell_metrics = [m for m in metrics if m in CELL_METRICS]
    if cell_metrics:
        out.update(
            _paired_confusion(
                rng, y, candidate, champion, n_classes, cell_metrics, resamples, max_elements
            )
        )
    if (
        "roc_auc" in metrics
        and n_classes == 2
        and candidate.scores is not None
        and champion.scores is not None
    ):
        out["roc_auc"] = _paired_auc(
            rng, y, candidate.scores, champion.scores, resamples, max_elements
        )
    return out


def _paired_confusion(
    rng: np.random.Generator,
    y: np.ndarray,
    candidate: Classified,
    champion: Classified,
    c: int,
    cell_metrics: list[str],
    resamples: int,
    max_elements: int,
) -> dict[str, Samples]:
    """Metrics of the confusion matrix: resample the (truth, candidate, champion)
    cells with one multinomial draw per resample instead of resampling rows."""
    n = int(y.shape[0])
    cells = (y.astype(np.int64) * c + candidate.labels) * c + champion.labels
    observed = np.bincount(cells, minlength=c**3)
    nonzero = np.flatnonzero(observed)
    probabilities = observed[nonzero] / observed.sum()
    # Where each observed cell lands in each model's confusion matrix.
    true_label, rest = np.divmod(nonzero, c * c)
    cand_label, champ_label = np.divmod(rest, c)
    cand_cell = true_label * c + cand_label
    champ_cell = true_label * c + champ_label
    parts: dict[str, list[np.ndarray]] = {}
    for m in _chunks(resamples, max(nonzero.size, c * c), max_elements):
        counts = rng.multinomial(n, probabilities, size=m)
        offsets = (np.arange(m, dtype=np.int64) * c * c)[:, None]
        for who, cell in (("candidate", cand_cell), ("champion", champ_cell)):
            cm = np.bincount(
                (cell[None, :] + offsets).reshape(-1),
                weights=counts.reshape(-1),
                minlength=m * c * c,
            ).reshape(m, c, c)
            for name, values in _confusion_metrics(cm, cell_metrics).items():
                parts.setdefault(f"{who}:{name}", []).append(values)
    return {
        name: Samples(
            np.concatenate(parts[f"candidate:{name}"]), np.concatenate(parts[f"champion:{name}"])
        )
        for name in cell_metrics
    }


def _paired_auc(
    rng: np.random.Generator,
    y: np.ndarray,
    candidate_scores: np.ndarray,
    champion_scores: np.ndarray,
    resamples: int,
    max_elements: int,
) -> Samples:
    """ROC AUC of both models under the same row weights per resample."""
    n = int(y.shape[0])
    # Weights are indexed in the candidate's score order; the champion's
    # order is a permutation of it, so both models see the same resample.
    order_a = np.argsort(candidate_scores, kind="stable")
    ranked_a = _ranked(y, candidate_scores, None)
    ranked_b = _ranked(y, champion_scores, np.argsort(order_a, kind="stable"))
    ranked_a = _RankedScores(None, ranked_a.labels, ranked_a.starts)
    auc_a: list[np.ndarray] = []
    auc_b: list[np.ndarray] = []
    for m in _chunks(resamples, n, max_elements):
        weights = _resampled_weights(rng, n, m)
        auc_a.append(_auc_weighted(weights, ranked_a))
        auc_b.append(_auc_weighted(weights, ranked_b))
    return Samples(np.concatenate(auc_a), np.concatenate(auc_b))


def paired_regression(
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray,
    metrics: Sequence[str],
    *,
    resamples: int,
    seed: int | None = 0,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> dict[str, Samples]:
    rng = np.random.default_rng(seed)
    n = int(y.shape[0])
    terms = _regression_terms(y, [candidate, champion])
    parts: dict[str, list[np.ndarray]] = {}
    for m in _chunks(resamples, n, max_elements):
        weights = _resampled_weights(rng, n, m)
        sums = weights.astype(np.float64) @ terms
        for who, prefix in (("candidate", 0), ("champion", 1)):
            for name, values in _regression_from_sums(sums, prefix, metrics).items():
                parts.setdefault(f"{who}:{name}", []).append(values)
    return {
        name: Samples(
            np.concatenate(parts[f"candidate:{name}"]),
            np.concatenate(parts[f"champion:{name}"]),
        )
        for name in metrics
        if f"candidate:{name}" in parts
    }


def summarize(samples: Samples, point_delta: float, alpha: float) -> DeltaStats:
    """Percentile interval of the paired delta and its two-sided bootstrap p-value."""
    delta = samples.delta
    delta = delta[np.isfinite(delta)]
    confidence = 1.0 - alpha
    if delta.size == 0:
        return DeltaStats(point_delta, float("nan"), float("nan"), 1.0, confidence, 0)
    low, high = np.quantile(delta, [alpha / 2, 1 - alpha / 2])
    below = np.count_nonzero(delta <= 0)
    above = np.count_nonzero(delta >= 0)
    p_value = min(1.0, 2.0 * (1 + min(below, above)) / (delta.size + 1))
    return DeltaStats(
        point_delta, float(low), float(high), float(p_value), confidence, int(delta.size)
    )
