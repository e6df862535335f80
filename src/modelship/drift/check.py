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

What the check will not call stable:

* A feature with fewer than `min_samples` non-missing values on either side is
  not judged (a test on a handful of values says nothing); the report says why.
* A feature whose missing share (empty, NaN or infinite values) rose by more
  than `max_missing_increase` drifted, whatever its remaining values look like:
  a column that went 99 % empty is a broken feed, not a stable feature. If too
  few values remain to test it is still not judged, but counts as drifted.
* A categorical column with more than `MAX_CATEGORIES` values is compared over
  its most frequent categories plus groups of the rarer values (see
  `_top_categories`), with a chi-square test of homogeneity, never skipped.

The data set's status is `drift`, `stable` or `insufficient-data`. `drift`
needs no unjudged feature when the judged ones alone reach the share; `stable`
needs every feature judged unless `allow_partial` lets the verdict rest on the
judged ones; with no feature judged there is no verdict.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import threading
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
# Above this many distinct values, a categorical column is compared over its
# most frequent categories plus buckets for the rest.
MAX_CATEGORIES = 10_000
MIN_CELL = 10  # values in both sets together for a category of such a column to stand alone
TAIL_GROUPS = 1_000
STABLE, DRIFT, INSUFFICIENT = "stable", "drift", "insufficient-data"
STATUSES = (STABLE, DRIFT, INSUFFICIENT)
MISSING_SHARE = "missing-share"  # the method named when only the missing share decided
HISTOGRAM_BINS = 20
CATEGORY_BARS = 12

Kind = Literal["numeric", "categorical", "unsupported"]


@dataclass(frozen=True)
class Options:
    features: Sequence[str] | None = None
    categorical: Sequence[str] | None = None
    target: str | None = None
    method: str = "auto"
    threshold: float | None = None
    drift_share: float = 0.5
    min_samples: int = 30
    max_missing_increase: float = 0.1
    allow_partial: bool = False
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
    judged: bool = True
    note: str = ""  # why it was not judged, or that its missing share rose
    missing_rose: bool = False  # past the limit: drifted, and the data set is not stable

    @classmethod
    def not_judged(
        cls, name: str, kind: Kind, note: str, counts: tuple[int, int], missing: tuple[int, int]
    ) -> FeatureResult:
        return cls(
            name, kind, "", math.nan, None, None, math.nan, False, *counts, *missing,
            judged=False, note=note,
        )  # fmt: skip

    @property
    def reference_missing_share(self) -> float:
        return self.reference_missing / max(self.reference_count + self.reference_missing, 1)

    @property
    def current_missing_share(self) -> float:
        return self.current_missing / max(self.current_count + self.current_missing, 1)

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
            "threshold": _finite(self.threshold),
            "judged": self.judged,
            "drifted": self.drifted if self.judged or self.drifted else None,
            "note": self.note,
            "missing_share_rose": self.missing_rose,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
            "reference_missing": self.reference_missing,
            "current_missing": self.current_missing,
            "reference_missing_share": self.reference_missing_share,
            "current_missing_share": self.current_missing_share,
        }


@dataclass
class DriftResult:
    features: list[FeatureResult]
    status: str  # one of STATUSES
    drift_share: float  # of the judged features
    drift_share_threshold: float
    method: str
    reference_rows: int
    current_rows: int
    input_bytes: int
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset_drift(self) -> bool | None:
        """True on drift, False when stable, None when the data could not be judged."""
        return None if self.status == INSUFFICIENT else self.status == DRIFT

    @property
    def judged(self) -> list[FeatureResult]:
        """Features with a verdict: tested, or drifted by their missing share alone."""
        return [f for f in self.features if f.judged or f.drifted]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Features not judged, each with the reason."""
        return [(f.name, f.note) for f in self.features if not f.judged]

    @property
    def unsettled(self) -> list[FeatureResult]:
        """Features that keep the data set from being called stable: untested, or
        with a rise of their missing share past the limit."""
        return [f for f in self.features if not f.judged or f.missing_rose]

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    def ordered(self) -> list[FeatureResult]:
        """Drifted features first, then unjudged ones, then by closeness to the threshold."""
        return sorted(self.features, key=lambda f: (not f.drifted, f.judged, _closeness(f), f.name))

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "method": self.method,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "drifted_features": self.drifted_features,
            "judged_features": len(self.judged),
            "features": [f.as_json() for f in self.ordered()],
            "not_judged": [{"feature": n, "reason": r} for n, r in self.skipped],
            **self.extra,
        }


def _closeness(result: FeatureResult) -> float:
    if not result.judged:
        return 0.0
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
class NumericColumn:
    name: str
    ref: Any  # sorted, NaN-free float64 view
    cur: Any
    ref_missing: int
    cur_missing: int


@dataclass
class CategoricalColumn:
    name: str
    labels: list[str]
    ref: Any  # counts per label
    cur: Any
    ref_missing: int
    cur_missing: int
    grouped: bool = False  # more than MAX_CATEGORIES values: cells from `_top_categories`


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


def _categorical(name: str, ref: load.Loaded, cur: load.Loaded) -> CategoricalColumn:
    """Both sets' counts over one list of categories (bucketed above MAX_CATEGORIES)."""
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
        counted.append((keys.cast(pa.string()), load.numbers(counts), missing))
        data.release(name)
    (ref_keys, ref_counts, ref_missing), (cur_keys, cur_counts, cur_missing) = counted
    new = pc.invert(pc.is_in(cur_keys, value_set=ref_keys))
    keys = pa.concat_arrays([ref_keys, cur_keys.filter(new)])
    ref_all = np.zeros(len(keys), dtype=np.int64)
    cur_all = np.zeros(len(keys), dtype=np.int64)
    ref_all[: len(ref_counts)] = ref_counts
    index = load.numbers(pc.index_in(cur_keys, value_set=keys))
    cur_all[index.astype(np.int64)] = cur_counts
    if len(keys) > MAX_CATEGORIES:
        labels, ref_all, cur_all = _top_categories(keys, ref_all, cur_all)
        return CategoricalColumn(name, labels, ref_all, cur_all, ref_missing, cur_missing, True)
    labels = keys.to_pylist()
    return CategoricalColumn(name, labels, ref_all, cur_all, ref_missing, cur_missing)


def _top_categories(keys: pa.Array, ref: Any, cur: Any) -> tuple[list[str], Any, Any]:
    """Cells for a column with more than MAX_CATEGORIES values: each frequent
    category alone, the rest in groups of neighbouring values.

    A category with at least MIN_CELL values in both sets together (at most
    MAX_CATEGORIES of them, the most frequent) keeps its own cell. The rest are
    grouped by the sort order of their values, not by anything counted: a
    grouping by counts or by which set a value appears in is biased (a value
    seen once is by definition in one set only) and flags stable data, while
    one "other" bucket hides a shift among rare values. Groups hold about
    MIN_CELL values each, TAIL_GROUPS at most, so the test stays bounded.
    """
    combined = ref + cur
    order = np.argsort(-combined, kind="stable")[:MAX_CATEGORIES]
    top = np.sort(order[combined[order] >= MIN_CELL])
    in_tail = np.ones(len(keys), dtype=bool)
    in_tail[top] = False
    tail = np.flatnonzero(in_tail)
    labels = keys.take(pa.array(top)).to_pylist()
    if tail.size == 0:
        return labels, ref[top], cur[top]
    groups = int(min(TAIL_GROUPS, max(1, int(combined[tail].sum()) // MIN_CELL)))
    by_value = load.numbers(pc.sort_indices(keys.take(pa.array(tail)))).astype(np.int64)
    group_of = np.empty(tail.size, dtype=np.int64)
    group_of[by_value] = np.arange(tail.size) * groups // tail.size
    ref_groups = np.bincount(group_of, weights=ref[tail], minlength=groups).astype(np.int64)
    cur_groups = np.bincount(group_of, weights=cur[tail], minlength=groups).astype(np.int64)
    labels += [f"(rarer values, group {i + 1} of {groups})" for i in range(groups)]
    return (
        labels,
        np.concatenate((ref[top], ref_groups)),
        np.concatenate((cur[top], cur_groups)),
    )


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


def numeric_result(col: NumericColumn, method: str, threshold: float | None) -> FeatureResult:
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
    result = FeatureResult(
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
    if chosen != "ks":  # KS waits for its p-value: `finish_ks`
        result.drifted = drifted(chosen, result.score, limit)
    return result


def exact_ks_samples(col: NumericColumn) -> tuple[Any, Any] | None:
    """The samples `finish_ks` needs: both, when scipy would compute an exact p-value."""
    if max(col.ref.size, col.cur.size) <= stats.KS_EXACT_MAX_N:
        return col.ref, col.cur
    return None


def finish_ks(result: FeatureResult, samples: tuple[Any, Any] | None) -> None:
    """The KS p-value and decision: exact from `samples` if given, else asymptotic.

    Not thread-safe (the exact path silences one scipy warning): call it after
    the worker threads are done.
    """
    if samples is not None:
        result.statistic, result.p_value = stats.ks_exact(*samples)
    else:
        result.p_value = stats.ks_asymptotic_pvalue(
            result.statistic, result.reference_count, result.current_count
        )
    result.drifted = drifted("ks", result.score, result.threshold)


def _binned_counts(a: Any, b: Any) -> tuple[Any, Any]:
    edges = stats.sturges_edges(a, b)
    return stats.sorted_histogram(a, edges), stats.sorted_histogram(b, edges)


def categorical_result(
    col: CategoricalColumn, method: str, threshold: float | None
) -> FeatureResult:
    distinct = int(np.count_nonzero((col.ref + col.cur) > 0))
    chosen = method_for(method, "categorical", distinct)
    limit = threshold if threshold is not None else DEFAULT_THRESHOLDS[chosen]
    p_value: float | None = None
    distance: float | None = None
    if chosen == "chi2" and col.grouped:
        # Rare values make the reference's shares a poor expectation (a value
        # seen once is new to the other set by chance): compare both sets alike.
        statistic, p_value = stats.chi_square_homogeneity(col.ref, col.cur)
    elif chosen in ("chi2", "z"):
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


def _category_histogram(col: CategoricalColumn) -> Histogram:
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
    # KS p-values of stable numeric columns need scipy.stats (`kstwo`, `ks_2samp`),
    # the largest import of the check. Importing holds the GIL, reading and
    # sorting do not: done alongside them, it costs little or no waiting.
    preload = _import_in_background("scipy.stats") if options.method in ("auto", "ks") else None
    try:
        return _check(reference, current, options, started)
    finally:
        if preload is not None:
            preload.join()


def _import_in_background(module: str) -> threading.Thread:
    """Start importing `module` in a thread; a later import in any thread waits for it.

    An error is left for that later import to raise where it is handled.
    """

    def load_module() -> None:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)

    thread = threading.Thread(target=load_module, name=f"import {module}")
    thread.start()
    return thread


def _check(reference: Path, current: Path, options: Options, started: float) -> DriftResult:
    ref, cur = _read_both(reference, current, options)
    names = _select_features(ref, cur, options)
    categorical = set(options.categorical or ())
    unknown = categorical - set(names)
    if unknown:
        raise load.DataError(
            f"categorical names columns that are not compared: {', '.join(sorted(unknown))}"
        )
    explicit = bool(options.features)
    kinds: dict[str, Kind] = {}
    results: dict[str, FeatureResult] = {}
    for name in names:
        kind = _kind(name, ref, cur, categorical, explicit)
        if kind in ("numeric", "categorical"):
            kinds[name] = kind  # type: ignore[assignment]
        else:
            results[name] = FeatureResult.not_judged(
                name, "unsupported", f"not compared: {kind}", (0, 0), (0, 0)
            )
    results.update(_compare(ref, cur, [n for n in names if n in kinds], kinds, options))
    features = [results[n] for n in names]
    for result in features:
        if result.judged:
            _apply_missing_rule(result, options.max_missing_increase)
    status, share = _status(features, options)
    return DriftResult(
        features=features,
        status=status,
        drift_share=share,
        drift_share_threshold=options.drift_share,
        method=options.method,
        reference_rows=ref.rows,
        current_rows=cur.rows,
        input_bytes=_input_bytes(ref, cur, list(kinds)),
        seconds=time.perf_counter() - started,
    )


def _compare(
    ref: load.Loaded,
    cur: load.Loaded,
    names: list[str],
    kinds: dict[str, Kind],
    options: Options,
) -> dict[str, FeatureResult]:
    """Each column's result: categorical ones counted here, numeric ones sorted and
    tested in worker threads (numpy releases the GIL), KS p-values after."""
    results: dict[str, FeatureResult] = {}
    categories: list[CategoricalColumn] = []
    for name in names:
        if kinds[name] == "categorical":
            column = _categorical(name, ref, cur)
            counts = (int(column.ref.sum()), int(column.cur.sum()))
            missing = (column.ref_missing, column.cur_missing)
            early = _without_test(name, "categorical", counts, missing, options)
            if early is None:
                categories.append(column)
            else:
                results[name] = early

    def numeric(name: str) -> tuple[FeatureResult, tuple[Any, Any] | None]:
        a, ref_missing = _sorted_finite(ref, name)
        b, cur_missing = _sorted_finite(cur, name)
        counts, missing = (a.size, b.size), (ref_missing, cur_missing)
        early = _without_test(name, "numeric", counts, missing, options)
        if early is not None:
            return early, None
        col = NumericColumn(name, a, b, ref_missing, cur_missing)
        result = numeric_result(col, options.method, options.threshold)
        return result, exact_ks_samples(col) if result.method == "ks" else None

    workers = options.workers or min(os.cpu_count() or 1, 4)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        numeric_results = list(pool.map(numeric, [n for n in names if kinds[n] == "numeric"]))
        categorical_results = list(
            pool.map(lambda c: categorical_result(c, options.method, options.threshold), categories)
        )
    for result, samples in numeric_results:
        if result.judged and result.method == "ks":
            finish_ks(result, samples)
        results[result.name] = result
    for result in categorical_results:
        results[result.name] = result
    return results


def _read_both(reference: Path, current: Path, options: Options) -> tuple[load.Loaded, ...]:
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
    return ref, cur


def _without_test(
    name: str,
    kind: Kind,
    counts: tuple[int, int],
    missing: tuple[int, int],
    options: Options,
) -> FeatureResult | None:
    """The result of a feature too thin to test, or None when the test can run.

    With fewer than `min_samples` values on a side the feature is not judged.
    If its missing share also rose past the limit, that much is known: it
    counts as drifted (a broken feed), though its distribution was not tested.
    """
    if min(counts) >= options.min_samples:
        return None
    side = "reference" if counts[0] < options.min_samples else "current"
    few = counts[0] if side == "reference" else counts[1]
    result = FeatureResult.not_judged(
        name,
        kind,
        f"only {few:,} non-missing value{'' if few == 1 else 's'} in the {side} data, fewer than "
        f"min-samples ({options.min_samples:,})",
        counts,
        missing,
    )
    _apply_missing_rule(result, options.max_missing_increase)
    return result


def _apply_missing_rule(result: FeatureResult, limit: float) -> None:
    """A rise of the missing share past `limit` is drift, whatever the test said."""
    before, after = result.reference_missing_share, result.current_missing_share
    if after - before > limit:
        result.drifted = result.missing_rose = True
        if not result.judged:  # the rise is the only score there is
            result.method, result.threshold = MISSING_SHARE, limit
            result.statistic = result.distance = after - before
        rise = f"missing share rose from {before:.2%} to {after:.2%} (more than {limit:.2%})"
        result.note = f"{result.note}; {rise}" if result.note else rise


def _status(features: list[FeatureResult], options: Options) -> tuple[str, float]:
    """The data set's status and the share of drifted features among those with a verdict.

    A feature has a verdict when it was tested, or when it was not but its
    missing share alone shows drift. The data set is called stable only when
    every feature was tested and none lost values past the limit (a broken
    feed is a reason to look, not to retrain), unless `allow_partial`.
    """
    known = [f for f in features if f.judged or f.drifted]
    drifted_count = sum(f.drifted for f in known)
    share = drifted_count / len(known) if known else 0.0
    if all(f.judged and not f.missing_rose for f in features):
        return (DRIFT if share >= options.drift_share else STABLE), share
    # Some features were not tested or lost values: drift is certain if the
    # drifted ones reach the share even were every untested feature stable.
    if drifted_count / len(features) >= options.drift_share:
        return DRIFT, share
    if options.allow_partial and known:
        return (DRIFT if share >= options.drift_share else STABLE), share
    return INSUFFICIENT, share


def _input_bytes(ref: load.Loaded, cur: load.Loaded, names: list[str]) -> int:
    """Bytes of the compared columns as Arrow held them (each one while it was taken)."""
    return sum(data.sizes.get(name, 0) for data in (ref, cur) for name in names)
