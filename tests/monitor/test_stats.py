"""The statistics against scipy and independent numpy formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from modelship.drift import stats


def _samples(
    rng: np.random.Generator, kind: str, n1: int, n2: int
) -> tuple[np.ndarray, np.ndarray]:
    if kind == "continuous":
        return rng.normal(0, 1, n1), rng.normal(0.1, 1.2, n2)
    if kind == "ties":
        return rng.integers(0, 8, n1).astype(float), rng.integers(0, 10, n2).astype(float)
    if kind == "rounded":
        return np.round(rng.normal(0, 1, n1), 1), np.round(rng.normal(0.05, 1, n2), 1)
    if kind == "identical":
        base = rng.normal(0, 1, n1)
        return base, base[:n2].copy() if n2 <= n1 else np.concatenate([base, base])[:n2]
    raise ValueError(kind)


def _ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = np.sort(a), np.sort(b)
    if max(a.size, b.size) <= stats.KS_EXACT_MAX_N:
        return stats.ks_exact(a, b)
    d = stats.ks_statistic(a, b)
    return d, stats.ks_asymptotic_pvalue(d, a.size, b.size)


@pytest.mark.parametrize("kind", ["continuous", "ties", "rounded", "identical"])
@pytest.mark.parametrize(
    ("n1", "n2"),
    [
        (1, 1),
        (1, 7),
        (3, 5),
        (8, 8),
        (25, 40),
        (300, 299),
        (1000, 250),
        (10_000, 9_000),
        (10_001, 300),
        (20_000, 30_000),
        (120_000, 80_000),
    ],
)
def test_ks_matches_scipy_auto(kind: str, n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 7 + n2)
    a, b = _samples(rng, kind, n1, n2)
    expected = sps.ks_2samp(a, b)  # method="auto": exact up to 10,000, asymptotic above
    d, p = _ks(a, b)
    assert abs(d - expected.statistic) <= 1e-12
    assert abs(p - expected.pvalue) <= 1e-6


def test_ks_shift_sizes_cover_every_pvalue_branch() -> None:
    """From no drift to overwhelming drift at asymptotic sizes (scipy's slow branches too)."""
    rng = np.random.default_rng(5)
    base = rng.normal(0, 1, 30_000)
    for shift in (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.2):
        other = rng.normal(shift, 1, 25_000)
        expected = sps.ks_2samp(base, other)
        d, p = _ks(base, other)
        assert abs(d - expected.statistic) <= 1e-12
        assert abs(p - expected.pvalue) <= 1e-6, shift


def test_kolmogorov_tail_agrees_with_kstwo_over_the_range() -> None:
    for n in (5000, 12_000, 40_000, 150_000):
        # scipy's own evaluation is the slow part of this test: 25 points per n.
        for x in np.linspace(0.02 / math.sqrt(n), 6 / math.sqrt(n), 25):
            assert abs(stats.kstwo_sf(float(x), float(n)) - sps.kstwo.sf(x, n)) <= 1e-7


def test_chi_square_matches_scipy() -> None:
    ref = np.array([120, 80, 0, 40, 10])
    cur = np.array([100, 90, 0, 60, 25])
    statistic, p = stats.chi_square(ref, cur)
    seen = (ref + cur) > 0
    expected = sps.chisquare(cur[seen], ref[seen] * cur.sum() / ref.sum())
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


def test_chi_square_new_category_is_certain_drift() -> None:
    statistic, p = stats.chi_square(np.array([50, 50, 0]), np.array([40, 40, 20]))
    assert math.isinf(statistic)
    assert p == 0.0


def test_z_test_matches_the_two_proportion_formula() -> None:
    ref, cur = np.array([300, 700]), np.array([380, 620])
    z, p = stats.z_test(ref, cur)
    p1, p2 = 700 / 1000, 620 / 1000
    pooled = (700 + 620) / 2000
    expected_z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert z == pytest.approx(expected_z, rel=1e-12)
    assert p == pytest.approx(2 * (1 - sps.norm.cdf(abs(expected_z))), rel=1e-9)


def test_binning_matches_numpy_sturges_histogram() -> None:
    rng = np.random.default_rng(9)
    a, b = np.sort(rng.normal(0, 1, 5000)), np.sort(rng.normal(0.3, 1.5, 4000))
    edges = stats.sturges_edges(a, b)
    np.testing.assert_allclose(edges, np.histogram_bin_edges(np.concatenate([a, b]), "sturges"))
    np.testing.assert_array_equal(stats.sorted_histogram(a, edges), np.histogram(a, edges)[0])
    np.testing.assert_array_equal(stats.sorted_histogram(b, edges), np.histogram(b, edges)[0])


def test_psi_matches_independent_formula() -> None:
    rng = np.random.default_rng(10)
    a, b = np.sort(rng.normal(0, 1, 3000)), np.sort(rng.normal(0.4, 1, 3000))
    combined = np.concatenate([a, b])
    edges = np.histogram_bin_edges(combined, "sturges")
    ref = np.histogram(a, edges)[0] / a.size
    cur = np.histogram(b, edges)[0] / b.size
    ref = np.where(ref == 0, 0.0001, ref)
    cur = np.where(cur == 0, 0.0001, cur)
    expected = float(np.sum((ref - cur) * np.log(ref / cur)))
    assert stats.psi(stats.binned_numeric(a, b)) == pytest.approx(expected, rel=1e-9)


def test_jensen_shannon_matches_scipy() -> None:
    rng = np.random.default_rng(11)
    a, b = np.sort(rng.exponential(1, 4000)), np.sort(rng.exponential(1.3, 3500))
    binned = stats.binned_numeric(a, b)
    expected = distance.jensenshannon(binned.ref, binned.cur)
    assert stats.jensen_shannon(binned) == pytest.approx(expected, rel=1e-9)
    counts = stats.binned_counts(np.array([10, 0, 5, 7]), np.array([3, 4, 0, 9]))
    assert stats.jensen_shannon(counts) == pytest.approx(
        distance.jensenshannon(counts.ref, counts.cur), rel=1e-9
    )


def test_wasserstein_matches_scipy() -> None:
    rng = np.random.default_rng(12)
    a, b = rng.normal(0, 2, 3000), np.round(rng.normal(0.5, 2, 2500), 1)
    expected = sps.wasserstein_distance(a, b)
    assert stats.wasserstein(np.sort(a), np.sort(b)) == pytest.approx(expected, rel=1e-10)
    assert stats.wasserstein_normed(np.sort(a), np.sort(b)) == pytest.approx(
        expected / np.std(a), rel=1e-10
    )


def test_wasserstein_is_scipys_sum_with_ties_across_both_samples() -> None:
    """The merge gives scipy's figure, with values shared by both samples."""
    rng = np.random.default_rng(13)
    for _ in range(40):
        levels = int(rng.integers(2, 400))
        a = np.sort(rng.integers(0, levels, int(rng.integers(1, 5000))) / 3.0)
        b = np.sort(rng.integers(0, levels + 3, int(rng.integers(1, 5000))) / 3.0)
        assert stats.wasserstein(a, b) == pytest.approx(sps.wasserstein_distance(a, b), rel=1e-12)


def test_ks_block_pruning_is_exact_on_random_ties() -> None:
    """The grid-and-blocks search finds scipy's statistic bit for bit, ties included."""
    rng = np.random.default_rng(21)
    for _ in range(120):
        n1, n2 = int(rng.integers(200, 20_000)), int(rng.integers(200, 20_000))
        levels = int(rng.integers(2, 3000))
        a = np.sort(rng.integers(0, levels, n1) / 7.0)
        b = np.sort(rng.integers(0, levels, n2) / 7.0 + float(rng.integers(0, 2)) * 0.01)
        assert stats.ks_statistic(a, b) == sps.ks_2samp(a, b, method="asymp").statistic


def test_chi_square_homogeneity_matches_scipy_contingency() -> None:
    ref = np.array([120, 80, 0, 40, 10, 1])
    cur = np.array([100, 90, 0, 60, 25, 0])
    statistic, p = stats.chi_square_homogeneity(ref, cur)
    seen = (ref + cur) > 0
    expected = sps.chi2_contingency(np.vstack([ref[seen], cur[seen]]), correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)
