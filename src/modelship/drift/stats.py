"""Two-sample statistics over sorted columns and category counts.

Every function takes data in the form the loader produces once per column:
numeric columns as *sorted*, NaN-free float64 arrays, categorical columns as
count vectors over one dictionary shared by both sets. Sorting is the only
O(n log n) step; everything else is a linear pass or a binary search in C, so
no function here loops over rows in Python.

The formulas follow scipy and Evidently so that numbers agree:

* KS: `scipy.stats.ks_2samp(method="auto")`: the same statistic; when both
  samples have at most 10,000 values `ks_2samp` itself (exact p-value),
  otherwise the asymptotic `kstwo.sf(d, round(n1*n2/(n1+n2)))` through public
  scipy functions only (see `kstwo_sf`).
* chi-square: Evidently's `chisquare` test, current counts against reference
  proportions scaled to the current size (Pearson, `scipy.stats.chisquare`);
  for columns with more than 10,000 values the test of homogeneity
  (`scipy.stats.chi2_contingency` without correction).
* z: Evidently's two-proportion z-test for columns with two values.
* PSI and Jensen-Shannon: Evidently's binning (Sturges bins over both sets for
  numeric columns with more than 20 distinct reference values, value counts
  otherwise), PSI with its zero filling.
* Wasserstein: `scipy.stats.wasserstein_distance` divided by the reference
  standard deviation (at least 0.001), as Evidently norms it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = Any  # numpy arrays; numpy ships no precise enough types for mypy here

# scipy's ks_2samp(method="auto") is exact up to this sample size.
KS_EXACT_MAX_N = 10_000


# -- Kolmogorov-Smirnov -------------------------------------------------------
def _run_ends(values: Array) -> Array:  # used by the value counts below
    """Index of the last element of each run of equal values in a sorted array."""
    if values.size == 0:
        return np.empty(0, dtype=np.intp)
    change = values[1:] != values[:-1]
    return np.flatnonzero(np.append(change, True))


KS_BLOCK = 64


def ks_statistic(a: Array, b: Array) -> float:
    """sup |F_a - F_b| for sorted, NaN-free, non-empty `a` and `b`; bit-identical to scipy.

    Between two consecutive distinct values of `a`, F_a is flat and F_b only
    grows, so the supremum is reached at a value of `a` (right limits) or just
    below one (left limits): for each index i of `a`,

        plus_i  = end_i / n1 - right_i / n2    (F_a - F_b at a_i)
        minus_i = left_i / n2 - start_i / n1   (F_b - F_a just below a_i)

    with end/start the positions after/of a_i's run of ties in `a` and
    right/left the same in `b`. These are scipy's own differences (the same
    integers divided by the same n), so the maximum is bit for bit scipy's.

    Only a grid of every 64th index is searched first. In a block between two
    grid points every term lies between bounds made of the grid points' values
    (the searches are monotone, and so is correctly rounded arithmetic), so
    only blocks whose bound reaches the best value found on the grid can hold
    the maximum; only those are searched element by element.
    """
    n1, n2 = a.size, b.size
    if n1 <= 4 * KS_BLOCK:
        return _ks_terms_max(a, b, a)
    grid = np.arange(0, n1, KS_BLOCK)
    if grid[-1] != n1 - 1:
        grid = np.append(grid, n1 - 1)
    points = a[grid]
    end = np.searchsorted(a, points, side="right")
    start = np.searchsorted(a, points, side="left")
    right = np.searchsorted(b, points, side="right")
    left = np.searchsorted(b, points, side="left")
    plus = end / n1 - right / n2
    minus = left / n2 - start / n1
    best_plus = float(plus.max())
    best_minus = max(float(minus.max()), -float(plus.min()))
    reached = max(best_plus, best_minus)
    bound = np.maximum(
        np.maximum(end[1:] / n1 - right[:-1] / n2, right[1:] / n2 - end[:-1] / n1),
        left[1:] / n2 - start[:-1] / n1,
    )
    hot = np.flatnonzero(bound >= reached)
    if hot.size:
        # Adjacent hot blocks become one slice: fewer, longer searches.
        breaks = np.flatnonzero(np.diff(hot) > 1)
        for first, last in zip(
            hot[np.concatenate(([0], breaks + 1))],
            hot[np.append(breaks, hot.size - 1)],
            strict=True,
        ):
            values = a[grid[first] : grid[last + 1] + 1]
            p, m = _ks_terms(a, b, values)
            best_plus = max(best_plus, float(p.max()))
            best_minus = max(best_minus, float(m.max()), -float(p.min()))
    best_minus = min(max(best_minus, 0.0), 1.0)
    return best_minus if best_minus > best_plus else best_plus


def _ks_terms(a: Array, b: Array, values: Array) -> tuple[Array, Array]:
    n1, n2 = a.size, b.size
    end = np.searchsorted(a, values, side="right")
    start = np.searchsorted(a, values, side="left")
    right = np.searchsorted(b, values, side="right")
    left = np.searchsorted(b, values, side="left")
    return end / n1 - right / n2, left / n2 - start / n1


def _ks_terms_max(a: Array, b: Array, values: Array) -> float:
    plus, minus = _ks_terms(a, b, values)
    best_plus = float(plus.max())
    best_minus = min(max(float(minus.max()), -float(plus.min()), 0.0), 1.0)
    return best_minus if best_minus > best_plus else best_plus


def ks_exact(a: Array, b: Array) -> tuple[float, float]:
    """`scipy.stats.ks_2samp(a, b)` for samples of at most `KS_EXACT_MAX_N` values: (d, p).

    At these sizes scipy computes the exact p-value; the statistic is cheap to
    recompute. scipy warns (RuntimeWarning) when the exact computation does not
    converge and it falls back to the asymptotic one: the result is still
    scipy's, so the warning is silenced. Call it from one thread only
    (`warnings.catch_warnings` changes process-wide state).
    """
    import warnings

    from scipy.stats import ks_2samp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = ks_2samp(a, b, method="auto")
    return float(result.statistic), float(result.pvalue)


def ks_asymptotic_pvalue(d: float, n1: int, n2: int) -> float:
    """scipy's asymptotic two-sided p-value: `kstwo.sf(d, round(n1*n2/(n1+n2)))`."""
    big, small = float(max(n1, n2)), float(min(n1, n2))
    en = float(np.round(big * small / (big + small)))
    return min(max(kstwo_sf(d, en), 0.0), 1.0)


# Where scipy's `kstwo.sf` switches to Smirnov's O(n) sum (`n * x**2 >= 2.2`).
SMIRNOV_SUM_FROM = 2.2
# From here on both tails are below 2 * exp(-16) = 2.3e-7 (Dvoretzky-Kiefer-Wolfowitz).
KOLMOGOROV_LIMIT_FROM = 8.0


def kstwo_sf(x: float, n: float) -> float:
    """`scipy.stats.kstwo.sf(x, n)` within 1e-7, through public functions only.

    For large n and a clear shift, `kstwo.sf` takes Smirnov's exact O(n) sum
    (`n * x**2 >= 2.2`): up to a second per column at a million rows. There,
    `1 - kstwo.cdf(x, n)` is as good (scipy computes that CDF with the
    Pelz-Good series, which agrees with the sum within 1e-7 while the tail is
    at least 2.3e-7), and from `n * x**2 = 8` on, the Kolmogorov limit with
    Stephens' correction (`scipy.special.kolmogorov`) is within 1e-8 of both.
    The tests check the agreement over the whole range.
    """
    nx2 = n * x * x
    if n >= 5000 and 0 < x < 0.5 and nx2 >= KOLMOGOROV_LIMIT_FROM:
        from scipy.special import kolmogorov  # a clear drift needs no scipy.stats import

        root = math.sqrt(n)
        return float(kolmogorov((root + 0.12 + 0.11 / root) * x))
    from scipy.stats import kstwo

    if n < 5000 or not 0 < x < 0.5 or nx2 < SMIRNOV_SUM_FROM:
        return float(kstwo.sf(x, n))
    return float(min(max(1.0 - float(kstwo.cdf(x, n)), 0.0), 1.0))


# -- tests on counts ------------------------------------------------------------
def chi2_sf(statistic: float, dof: int) -> float:
    """`scipy.stats.chi2.sf(statistic, dof)`, through `scipy.special.chdtrc` as scipy does.

    scipy.special is a few tenths of a second lighter to import than
    scipy.stats, which a data set without KS columns then never loads.
    """
    from scipy.special import chdtrc

    return float(chdtrc(dof, statistic))


def chi_square(ref_counts: Array, cur_counts: Array) -> tuple[float, float]:
    """Pearson chi-square of current counts against scaled reference counts.

    Categories absent from both sets are ignored; a category seen only in the
    current data has expectation 0, an infinite statistic and p-value 0
    (as scipy and Evidently give).
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    seen = (ref + cur) > 0
    ref, cur = ref[seen], cur[seen]
    if ref.size <= 1:
        return 0.0, 1.0
    expected = ref * (cur.sum() / ref.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (cur - expected) ** 2 / expected
    statistic = float(terms.sum())
    return statistic, chi2_sf(statistic, ref.size - 1)


def chi_square_homogeneity(ref_counts: Array, cur_counts: Array) -> tuple[float, float]:
    """Pearson chi-square test of homogeneity on the 2 x k table of both sets' counts.

    The same as `scipy.stats.chi2_contingency(table, correction=False)`, without
    building the table: both sets are samples, neither is the expectation.
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    seen = (ref + cur) > 0
    ref, cur = ref[seen], cur[seen]
    if ref.size <= 1 or ref.sum() == 0 or cur.sum() == 0:
        return 0.0, 1.0
    column = ref + cur
    total = column.sum()
    expected_ref = column * (ref.sum() / total)
    expected_cur = column * (cur.sum() / total)
    statistic = float(
        np.sum((ref - expected_ref) ** 2 / expected_ref + (cur - expected_cur) ** 2 / expected_cur)
    )
    return statistic, chi2_sf(statistic, ref.size - 1)


def z_test(ref_counts: Array, cur_counts: Array) -> tuple[float, float]:
    """Two-proportion z-test for a column with (at most) two values."""
    from scipy.special import ndtr

    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    seen = (ref + cur) > 0
    ref, cur = ref[seen], cur[seen]
    if ref.size <= 1:
        return 0.0, 1.0
    n1, n2 = ref.sum(), cur.sum()
    p1, p2 = 1 - ref[0] / n1, 1 - cur[0] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    # `norm.sf(|z|)` is `ndtr(-|z|)`: the same function without importing scipy.stats.
    return float(z), float(2 * ndtr(-abs(z)))


# -- binned distances -----------------------------------------------------------------
def sturges_edges(a: Array, b: Array) -> Array:
    """`np.histogram_bin_edges(concat(a, b), "sturges")` from two sorted arrays."""
    low = min(float(a[0]), float(b[0]))
    high = max(float(a[-1]), float(b[-1]))
    n = a.size + b.size
    if high == low:
        low, high = low - 0.5, high + 0.5
        return np.linspace(low, high, 2)
    width = (high - low) / (math.log2(n) + 1.0)
    bins = math.ceil((high - low) / width)
    return np.linspace(low, high, bins + 1)


def sorted_histogram(values: Array, edges: Array) -> Array:
    """`np.histogram(values, edges)[0]` for sorted values: binary searches only."""
    inner = np.searchsorted(values, edges[1:-1], side="left")
    bounds = np.concatenate(
        (
            [np.searchsorted(values, edges[0], side="left")],
            inner,
            [np.searchsorted(values, edges[-1], side="right")],
        )
    )
    return np.diff(bounds)


def sorted_value_counts(a: Array, b: Array) -> tuple[Array, Array, Array]:
    """Distinct values of two sorted arrays and each one's counts in a and in b."""
    keys = np.union1d(a[_run_ends(a)], b[_run_ends(b)])
    count_a = np.diff(np.searchsorted(a, keys, side="right"), prepend=0)
    count_b = np.diff(np.searchsorted(b, keys, side="right"), prepend=0)
    return keys, count_a, count_b


def distinct_count(a: Array, limit: int | None = None) -> int:
    """Distinct values in a sorted array."""
    if a.size == 0:
        return 0
    return int(np.count_nonzero(a[1:] != a[:-1])) + 1


@dataclass(frozen=True)
class Binned:
    """Reference and current shares over common bins (Evidently's `get_binned_data`)."""

    ref: Array
    cur: Array


def binned_numeric(a: Array, b: Array) -> Binned:
    if distinct_count(a) > 20:
        edges = sturges_edges(a, b)
        return Binned(sorted_histogram(a, edges) / a.size, sorted_histogram(b, edges) / b.size)
    _keys, count_a, count_b = sorted_value_counts(a, b)
    return Binned(count_a / a.size, count_b / b.size)


def binned_counts(ref_counts: Array, cur_counts: Array) -> Binned:
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    seen = (ref + cur) > 0
    return Binned(ref[seen] / ref.sum(), cur[seen] / cur.sum())


def _fill_zeroes(shares: Array) -> Array:
    shares = shares.copy()
    nonzero = shares[shares != 0]
    smallest = float(nonzero.min()) if nonzero.size else 1.0
    shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return shares


def psi(binned: Binned) -> float:
    """Population stability index, with Evidently's filling of empty bins."""
    ref = _fill_zeroes(binned.ref)
    cur = _fill_zeroes(binned.cur)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def jensen_shannon(binned: Binned) -> float:
    """Jensen-Shannon distance (natural log), as `scipy.spatial.distance.jensenshannon`."""
    p = binned.ref / binned.ref.sum()
    q = binned.cur / binned.cur.sum()
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0)
        right = np.where(q > 0, q * np.log(q / m), 0.0)
    js = (left.sum() + right.sum()) / 2.0
    return float(math.sqrt(max(js, 0.0)))


def wasserstein(a: Array, b: Array) -> float:
    """First Wasserstein distance of two sorted samples (scipy's CDF formula).

    scipy finds both CDFs at every pooled value by binary search. Both samples
    are sorted here, so one merge gives them, in about half the time at 200,000
    rows: a stable sort of two sorted runs is a linear merge, and counting the
    values that came from `a` gives its CDF. Inside a run of equal values that
    count is short of `searchsorted(side="right")`, but there the gap to the
    next value is 0, so every product summed is the binary search's one.
    """
    both = np.concatenate((a, b))
    order = np.argsort(both, kind="stable")
    deltas = np.diff(both[order])
    from_a = np.cumsum(order[:-1] < a.size)
    cdf_a = from_a / a.size
    cdf_b = (np.arange(1, both.size) - from_a) / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * deltas))


def wasserstein_normed(a: Array, b: Array) -> float:
    """Wasserstein distance divided by the reference standard deviation (min 0.001)."""
    norm = max(float(np.std(a)), 0.001)
    return wasserstein(a, b) / norm
