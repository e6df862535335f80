"""The drift check: which test each column gets, and what counts as drift.

Defaults follow Evidently's DataDriftPreset where the methods coincide:

Per method, the test on numeric / categorical columns, and when a column drifts:

* auto: KS (chi-square with <= 5 distinct values, z-test with <= 2) /
  chi-square (z-test with 2 values); p-value below 0.05 (KS: at or below).
* ks: KS / chi-square (z-test with 2 values); as auto.
* chi2: chi-square over Evidently's bins / chi-square; p-value below 0.05.
* psi: PSI over Evidently's bins / PSI; PSI at or above 0.1.
* jensen-shannon: Jensen-Shannon distance on both; at or above 0.1.
* wasserstein: Wasserstein distance / reference std (Jensen-Shannon with
  <= 5 distinct values) / Jensen-Shannon; at or above 0.1.

The numbers are the default thresholds; `threshold` replaces them for every
column.

`auto` is Evidently's choice for a reference of up to 1,000 rows; Evidently
switches to `wasserstein` (numeric) and `jensen-shannon` (categorical) for
larger references, which is `method: wasserstein` here. The dataset drifts when
the share of drifted features is at or above `drift-share` (default 0.5), as in
Evidently.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelship.drift import load, stats

METHODS = ("auto", "ks", "chi2", "psi", "jensen-shannon", "wasserstein")
DEFAULT_THRESHOLDS = {
    "ks": 0.05,
    "chi2": 0.05,
    "z": 0.05,
    "psi": 0.1,
    "jensen-shannon": 0.1,
    "wasserstein": 0.1,
}
P_VALUE_METHODS = frozenset({"ks", "chi2", "z"})
# A text column with more distinct values than this is an identifier, not a category.
MAX_CATEGORIES = 10_000
HISTOGRAM_BINS = 20
CATEGORY_BARS = 12

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Options:
    features: Sequence[str] | None = None
    categorical: Sequence[str] | None = None
    target: str | None = None
    method: str = "auto"
    threshold: float | None = None
    drift_share: float = 0.5
    workers: int = 0  # 0: one per CPU, at most 4


@dataclass
class Histogram:
    """What the report draws: bin labels and each set's share per bin."""

    labels: list[str]
    reference: list[float]
    current: list[float]
    edges: list[float] | None = None


@dataclass
class FeatureResult:
    name: str
    kind: Kind
    method: str
    statistic: float
    p_value: float | None
    distance: float | None
    threshold: float
    drifted: bool
    reference_count: int
    current_count: int
    reference_missing: int
    current_missing: int
    histogram: Histogram | None = None

    @property
    def score(self) -> float:
        """p-value for tests, distance for distances (Evidently's drift score)."""
        if self.p_value is not None:
            return self.p_value
        return self.distance if self.distance is not None else self.statistic

    def as_json(self) -> dict[str, Any]:
        return {
            "feature": self.name,
            "type": self.kind,
            "method": self.method,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "distance": _finite(self.distance),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
            "reference_missing": self.reference_missing,
            "current_missing": self.current_missing,
        }


@dataclass
class DriftResult:
    features: list[FeatureResult]
    skipped: list[tuple[str, str]]
    drift_share: float
    dataset_drift: bool
    drift_share_threshold: float
    method: str
    reference_rows: int
    current_rows: int
    input_bytes: int
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    def ordered(self) -> list[FeatureResult]:
        """Drifted features first, then by how far each is past its threshold."""
        return sorted(self.features, key=lambda f: (not f.drifted, _closeness(f), f.name))

    def as_json(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "method": self.method,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "drifted_features": self.drifted_features,
            "features": [f.as_json() for f in self.ordered()],
            "skipped": [{"feature": n, "reason": r} for n, r in self.skipped],
            **self.extra,
        }


def _closeness(result: FeatureResult) -> float:
    if result.p_value is not None:
        return result.p_value
    return -(result.distance or 0.0)


def _finite(value: float | None) -> float | str | None:
    if value is None:
        return None
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


# -- preparing columns ------------------------------------------------------------
@dataclass
class _Numeric:
    name: str
    ref: Any  # sorted, NaN-free float64 view
    cur: Any
    ref_missing: int
    cur_missing: int


@dataclass
class _Categorical:
    name: str
    labels: list[str]
    ref: Any  # counts per label
    cur: Any
    ref_missing: int
    cur_missing: int


def _select_features(ref: load.Loaded, cur: load.Loaded, options: Options) -> list[str]:
    if options.features:
        missing_ref = [f for f in options.features if f not in ref.types]
        missing_cur = [f for f in options.features if f not in cur.types]
        if missing_ref or missing_cur:
            parts = []
            if missing_ref:
                parts.append(f"not in the reference data: {', '.join(missing_ref)}")
            if missing_cur:
                parts.append(f"not in the current data: {', '.join(missing_cur)}")
            raise load.DataError("features " + "; ".join(parts))
        if options.target and options.target in options.features:
            raise load.DataError(f"the target '{options.target}' is also listed in features")
        return list(options.features)
    skip = {options.target} if options.target else set()
    ref_cols = [c for c in ref.names if c not in skip]
    cur_cols = [c for c in cur.names if c not in skip]
    only_ref = [c for c in ref_cols if c not in cur.types]
    only_cur = [c for c in cur_cols if c not in ref.types]
    if only_ref or only_cur:
        parts = []
        if only_ref:
            parts.append(f"only in the reference data: {', '.join(only_ref)}")
        if only_cur:
            parts.append(f"only in the current data: {', '.join(only_cur)}")
        raise load.DataError(
            "the two data sets have different columns: "
            + "; ".join(parts)
            + " (list the columns to compare in `features`)"
        )
    if not ref_cols:
        raise load.DataError("the data has no feature columns to compare")
    return ref_cols


def _kind(
    name: str, ref: load.Loaded, cur: load.Loaded, categorical: set[str], explicit: bool
) -> Kind | str:
    """The column's kind, or a reason to skip it."""
    if name in categorical:
        return "categorical"
    kinds = []
    for data in (ref, cur):
        kind = data.types[name]
        if pa.types.is_null(kind):
            kinds.append("null")
        elif load.is_numeric_type(kind):
            kinds.append("numeric")
        elif load.is_text_type(kind) or pa.types.is_boolean(kind):
            kinds.append("text")
        else:
            kinds.append(str(kind))
    known = {"numeric", "text", "null"}
    if kinds[0] not in known or kinds[1] not in known:
        reason = f"type {kinds[0] if kinds[0] not in known else kinds[1]} is not supported"
        if explicit:
            raise load.DataError(f"column '{name}': {reason}; leave it out of features")
        return reason
    if "numeric" in kinds and "text" in kinds:
        text_side = ref if kinds[0] == "text" else cur
        numbers = load.text_to_numbers(text_side.arrow(name))
        if numbers is None:
            example = load.first_non_number(text_side.arrow(name))
            other = cur if text_side is ref else ref
            raise load.DataError(
                f"column '{name}' holds numbers in {other.path.name} but text in "
                f"{text_side.path.name} (e.g. {example[:40]!r}); fix the data or list "
                "the column in `categorical`"
            )
        text_side.columns[name] = list(numbers.chunks)
        text_side.types[name] = pa.float64()
        return "numeric"
    if "text" in kinds:
        return "categorical"
    return "numeric"


def _sorted_finite(data: load.Loaded, name: str) -> tuple[Any, int]:
    """The column's finite values, sorted, and how many values were missing.

    One copy out of Arrow (which is then released), one in-place sort; NaN
    sorts last and the infinities next to the ends, so binary searches find
    the finite part without another pass over the data. Infinite values count
    as missing, as in Evidently.
    """
    values = np.empty(data.rows, dtype=np.float64)
    load.as_float_column(data.arrow(name), values)
    data.release(name)
    values.sort()
    stop = values.size
    if stop and math.isnan(values[-1]):
        stop = int(np.searchsorted(values, np.nan, side="left"))
    low = int(np.searchsorted(values[:stop], -np.inf, side="right"))
    high = int(np.searchsorted(values[:stop], np.inf, side="left"))
    return values[low:high], values.size - (high - low)


def _as_text(data: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text or dictionary-encoded text as it is; anything else (bool, numbers) as text."""
    if not load.is_text_type(data.type):
        data = pc.cast(data, pa.string())
    return data


def _categorical(
    name: str, ref: load.Loaded, cur: load.Loaded, explicit: bool
) -> _Categorical | str:
    counted = []
    for data in (ref, cur):
        column = data.arrow(name)
        missing = column.null_count
        if pa.types.is_null(column.type):
            counted.append((pa.array([], pa.string()), np.zeros(0, np.int64), len(column)))
            continue
        values = pc.value_counts(_as_text(column)).flatten()
        keys, counts = values[0], values[1]
        if pa.types.is_dictionary(keys.type):
            keys = keys.dictionary_decode()
        present = pc.is_valid(keys)
        keys, counts = keys.filter(present), counts.filter(present)
        if len(keys) > MAX_CATEGORIES:
            reason = (
                f"{len(keys):,} distinct values in {data.path.name} (more than "
                f"{MAX_CATEGORIES:,}): an identifier or free text, not a category"
            )
            if explicit:
                raise load.DataError(
                    f"column '{name}' has {reason}; leave it out of features and categorical"
                )
            return reason
        counted.append((keys, load.numbers(counts), missing))
        data.release(name)
    (ref_keys, ref_counts, ref_missing), (cur_keys, cur_counts, cur_missing) = counted
    new = pc.invert(pc.is_in(cur_keys, value_set=ref_keys))
    keys = pa.concat_arrays([ref_keys.cast(pa.string()), cur_keys.filter(new).cast(pa.string())])
    ref_all = np.zeros(len(keys), dtype=np.int64)
    cur_all = np.zeros(len(keys), dtype=np.int64)
    ref_all[: len(ref_counts)] = ref_counts
    index = load.numbers(pc.index_in(cur_keys.cast(pa.string()), value_set=keys))
    cur_all[index.astype(np.int64)] = cur_counts
    return _Categorical(name, keys.to_pylist(), ref_all, cur_all, ref_missing, cur_missing)


# -- the comparison ---------------------------------------------------------------
def method_for(method: str, kind: Kind, distinct: int) -> str:
    if method in ("auto", "ks"):
        if kind == "numeric" and (method == "ks" or distinct > 5):
            return "ks"
        return "z" if distinct <= 2 else "chi2"
    if method == "wasserstein":
        return "wasserstein" if kind == "numeric" and distinct > 5 else "jensen-shannon"
    return method


def drifted(method: str, score: float, threshold: float) -> bool:
    if math.isnan(score):
        return False
    if method == "ks":
        return score <= threshold
    if method in P_VALUE_METHODS:
        return score < threshold
    return score >= threshold


def _union_distinct(a: Any, b: Any, limit: int) -> int:
    """Distinct values of a and b together, exactly when at most `limit`, else limit + 1."""
    if stats.distinct_count(a) > limit or stats.distinct_count(b) > limit:
        return limit + 1
    return int(np.union1d(np.unique(a), np.unique(b)).size)


def _numeric_result(col: _Numeric, method: str, threshold: float | None) -> FeatureResult:
    a, b = col.ref, col.cur
    distinct = _union_distinct(a, b, 5)
    chosen = method_for(method, "numeric", distinct)
    limit = threshold if threshold is not None else DEFAULT_THRESHOLDS[chosen]
    p_value: float | None = None
    distance: float | None = None
    if chosen == "ks":
        statistic = stats.ks_statistic(a, b)  # p-values are computed for all columns at once
    elif chosen in ("chi2", "z"):
        _keys, count_a, count_b = (
            stats.sorted_value_counts(a, b) if distinct <= 20 else (None, *_binned_counts(a, b))
        )
        test = stats.chi_square if chosen == "chi2" else stats.z_test
        statistic, p_value = test(count_a, count_b)
    elif chosen == "wasserstein":
        statistic = distance = stats.wasserstein_normed(a, b)
    else:
        binned = stats.binned_numeric(a, b)
        statistic = distance = (
            stats.psi(binned) if chosen == "psi" else stats.jensen_shannon(binned)
        )
    return FeatureResult(
        col.name,
        "numeric",
        chosen,
        statistic,
        p_value,
        distance,
        limit,
        False,
        a.size,
        b.size,
        col.ref_missing,
        col.cur_missing,
        _numeric_histogram(a, b),
    )


def _binned_counts(a: Any, b: Any) -> tuple[Any, Any]:
    edges = stats.sturges_edges(a, b)
    return stats.sorted_histogram(a, edges), stats.sorted_histogram(b, edges)


def _categorical_result(col: _Categorical, method: str, threshold: float | None) -> FeatureResult:
    distinct = int(np.count_nonzero((col.ref + col.cur) > 0))
    chosen = method_for(method, "categorical", distinct)
    limit = threshold if threshold is not None else DEFAULT_THRESHOLDS[chosen]
    p_value: float | None = None
    distance: float | None = None
    if chosen in ("chi2", "z"):
        test = stats.chi_square if chosen == "chi2" else stats.z_test
        statistic, p_value = test(col.ref, col.cur)
    else:
        binned = stats.binned_counts(col.ref, col.cur)
        statistic = distance = (
            stats.psi(binned) if chosen == "psi" else stats.jensen_shannon(binned)
        )
    result = FeatureResult(
        col.name,
        "categorical",
        chosen,
        statistic,
        p_value,
        distance,
        limit,
        False,
        int(col.ref.sum()),
        int(col.cur.sum()),
        col.ref_missing,
        col.cur_missing,
        _category_histogram(col),
    )
    result.drifted = drifted(chosen, result.score, limit)
    return result


def _numeric_histogram(a: Any, b: Any) -> Histogram:
    low = min(float(a[0]), float(b[0]))
    high = max(float(a[-1]), float(b[-1]))
    if high == low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    ref = stats.sorted_histogram(a, edges) / a.size
    cur = stats.sorted_histogram(b, edges) / b.size
    labels = [f"{edges[i]:.4g} to {edges[i + 1]:.4g}" for i in range(HISTOGRAM_BINS)]
    return Histogram(labels, ref.tolist(), cur.tolist(), edges.tolist())


def _category_histogram(col: _Categorical) -> Histogram:
    ref = col.ref / max(int(col.ref.sum()), 1)
    cur = col.cur / max(int(col.cur.sum()), 1)
    order = np.argsort(-(ref + cur), kind="stable")
    top = order[:CATEGORY_BARS]
    labels = [col.labels[i] for i in top]
    ref_shares, cur_shares = ref[top].tolist(), cur[top].tolist()
    if order.size > CATEGORY_BARS:
        rest = order[CATEGORY_BARS:]
        labels.append(f"{rest.size:,} others")
        ref_shares.append(float(ref[rest].sum()))
        cur_shares.append(float(cur[rest].sum()))
    return Histogram(labels, ref_shares, cur_shares)


def check(reference: Path, current: Path, options: Options) -> DriftResult:
    """Compare two files column by column; raise `load.DataError` on bad input."""
    started = time.perf_counter()
    if options.method not in METHODS:
        raise load.DataError(f"unknown method {options.method!r}; use one of {METHODS}")
    wanted = None
    if options.features:
        wanted = [*options.features, *([options.target] if options.target else [])]
    ref = load.read(reference, wanted)
    cur = load.read(current, wanted)
    if ref.rows == 0:
        raise load.DataError(f"the reference data ({reference.name}) has no rows")
    if cur.rows == 0:
        raise load.DataError(f"the current data ({current.name}) has no rows")
    names = _select_features(ref, cur, options)
    categorical = set(options.categorical or ())
    unknown = categorical - set(names)
    if unknown:
        raise load.DataError(
            f"categorical names columns that are not compared: {', '.join(sorted(unknown))}"
        )
    explicit = bool(options.features)
    kinds: dict[str, Kind] = {}
    skipped: list[tuple[str, str]] = []
    for name in names:
        kind = _kind(name, ref, cur, categorical, explicit)
        if kind in ("numeric", "categorical"):
            kinds[name] = kind  # type: ignore[assignment]
        else:
            skipped.append((name, kind))
    input_bytes = _input_bytes(ref, cur, list(kinds))
    numeric_names = [n for n in names if kinds.get(n) == "numeric"]
    results: dict[str, FeatureResult] = {}
    categories: list[_Categorical] = []
    for name in names:
        if kinds.get(name) != "categorical":
            continue
        counted = _categorical(name, ref, cur, explicit=name in categorical or explicit)
        if isinstance(counted, str):
            skipped.append((name, counted))
            continue
        for count, missing, data in (
            (counted.ref, counted.ref_missing, ref),
            (counted.cur, counted.cur_missing, cur),
        ):
            if int(count.sum()) == 0:
                raise load.DataError(_all_missing(name, data, missing))
        categories.append(counted)

    workers = options.workers or min(os.cpu_count() or 1, 4)

    def numeric(j: int) -> FeatureResult:
        name = numeric_names[j]
        a, ref_missing = _sorted_finite(ref, name)
        b, cur_missing = _sorted_finite(cur, name)
        if a.size == 0:
            raise load.DataError(_all_missing(name, ref, ref_missing))
        if b.size == 0:
            raise load.DataError(_all_missing(name, cur, cur_missing))
        col = _Numeric(name, a, b, ref_missing, cur_missing)
        return _numeric_result(col, options.method, options.threshold)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        numeric_results = list(pool.map(numeric, range(len(numeric_names))))
        categorical_results = list(
            pool.map(
                lambda c: _categorical_result(c, options.method, options.threshold), categories
            )
        )
    ks = [r for r in numeric_results if r.method == "ks"]
    if ks:
        d, p = stats.ks_pvalues(
            [r.statistic for r in ks],
            [r.reference_count for r in ks],
            [r.current_count for r in ks],
        )
        for result, d_i, p_i in zip(ks, d, p, strict=True):
            result.statistic, result.p_value = float(d_i), float(p_i)
    for result in numeric_results:
        result.drifted = drifted(result.method, result.score, result.threshold)
    for result in [*numeric_results, *categorical_results]:
        results[result.name] = result
    features = [results[n] for n in names if n in results]
    if not features:
        raise load.DataError(
            "no column could be compared: " + "; ".join(f"{n}: {r}" for n, r in skipped)
        )
    share = sum(f.drifted for f in features) / len(features)
    return DriftResult(
        features=features,
        skipped=skipped,
        drift_share=share,
        dataset_drift=share >= options.drift_share,
        drift_share_threshold=options.drift_share,
        method=options.method,
        reference_rows=ref.rows,
        current_rows=cur.rows,
        input_bytes=input_bytes,
        seconds=time.perf_counter() - started,
    )


def _all_missing(name: str, data: load.Loaded, missing: int) -> str:
    return (
        f"column '{name}' has no values in {data.path.name} (all {data.rows:,} rows are "
        "empty or NaN); fix the data or leave the column out of features"
    )


def _input_bytes(ref: load.Loaded, cur: load.Loaded, names: list[str]) -> int:
    total = 0
    for data in (ref, cur):
        for name in names:
            total += sum(chunk.nbytes for chunk in data.columns[name])
    return total
