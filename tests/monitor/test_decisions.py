"""Drift decisions against Evidently's DataDriftPreset rules.

Evidently itself needs pandas < 3 and is not installed in the project
environment; `benchmarks/drift.py` runs the real Evidently 0.7 in its own
environment and compares decisions column by column. Here an independent
implementation of Evidently's documented defaults (stattest choice by
reference size and distinct values, thresholds, the >= drift-share rule),
written with scipy on the raw columns, is the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from modelship.drift import Options, compare
from modelship.drift.check import DEFAULT_THRESHOLDS, drifted, method_for
from tests.monitor.conftest import write_table


def evidently_decision(ref: np.ndarray, cur: np.ndarray, numeric: bool) -> tuple[str, bool]:
    """Evidently 0.7 `_get_default_stattest` and the stattests' default thresholds."""
    n_values = len(set(ref.tolist()) | set(cur.tolist()))
    if len(ref) <= 1000:
        if numeric and n_values > 5:
            return "ks", sps.ks_2samp(ref, cur).pvalue <= 0.05
        keys = sorted(set(ref.tolist()) | set(cur.tolist()))
        ref_counts = np.array([np.sum(ref == k) for k in keys])
        cur_counts = np.array([np.sum(cur == k) for k in keys])
        if n_values > 2:
            with np.errstate(divide="ignore"):
                p = sps.chisquare(cur_counts, ref_counts * len(cur) / len(ref)).pvalue
            return "chi2", p < 0.05
        p1, p2 = 1 - ref_counts[0] / len(ref), 1 - cur_counts[0] / len(cur)
        pooled = (p1 * len(ref) + p2 * len(cur)) / (len(ref) + len(cur))
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
        return "z", 2 * (1 - sps.norm.cdf(abs(z))) < 0.05
    if numeric and n_values > 5:
        value = sps.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
        return "wasserstein", value >= 0.1
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    ref_p = np.array([np.sum(ref == k) for k in keys]) / len(ref)
    cur_p = np.array([np.sum(cur == k) for k in keys]) / len(cur)
    return "jensen-shannon", distance.jensenshannon(ref_p, cur_p) >= 0.1


def _dataset(rows: int, seed: int) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    cols_ref: dict[str, object] = {}
    cols_cur: dict[str, object] = {}
    for i, shift in enumerate((0.0, 0.05, 0.1, 0.2, 0.3, 0.5)):
        cols_ref[f"n{i}"] = rng.normal(0, 1, rows)
        cols_cur[f"n{i}"] = rng.normal(shift, 1, rows)
    cols_ref["small_int"] = rng.integers(0, 4, rows).astype(float)
    cols_cur["small_int"] = rng.integers(0, 5, rows).astype(float)
    letters = np.array(list("abcd"))
    cols_ref["cat"] = letters[rng.choice(4, rows, p=[0.4, 0.3, 0.2, 0.1])]
    cols_cur["cat"] = letters[rng.choice(4, rows, p=[0.3, 0.3, 0.2, 0.2])]
    cols_ref["cat_same"] = letters[rng.integers(0, 4, rows)]
    cols_cur["cat_same"] = letters[rng.integers(0, 4, rows)]
    yes_no = np.array(["yes", "no"])
    cols_ref["binary"] = yes_no[rng.choice(2, rows, p=[0.5, 0.5])]
    cols_cur["binary"] = yes_no[rng.choice(2, rows, p=[0.42, 0.58])]
    return pa.table(cols_ref), pa.table(cols_cur)


@pytest.mark.parametrize(("rows", "method"), [(800, "auto"), (4000, "wasserstein")])
def test_decisions_agree_with_evidently_defaults(tmp_path: Path, rows: int, method: str) -> None:
    ref, cur = _dataset(rows, seed=rows)
    result = compare(
        write_table(ref, tmp_path / "ref.parquet"),
        write_table(cur, tmp_path / "cur.parquet"),
        Options(method=method),
    )
    by_name = {f.name: f for f in result.features}
    decisions = {}
    for name in ref.column_names:
        a, b = ref.column(name).to_numpy(), cur.column(name).to_numpy()
        numeric = a.dtype.kind == "f"
        expected_method, expected_drift = evidently_decision(a, b, numeric)
        assert by_name[name].method == expected_method, name
        assert by_name[name].drifted == bool(expected_drift), name
        decisions[name] = bool(expected_drift)
    # Both outcomes occur, so the agreement is not trivial.
    assert any(decisions.values())
    assert not all(decisions.values())
    share = sum(decisions.values()) / len(decisions)
    assert result.drift_share == pytest.approx(share)
    assert result.dataset_drift == (share >= 0.5)


def test_default_thresholds_are_evidentlys() -> None:
    assert DEFAULT_THRESHOLDS == {
        "ks": 0.05,
        "chi2": 0.05,
        "z": 0.05,
        "psi": 0.1,
        "jensen-shannon": 0.1,
        "wasserstein": 0.1,
    }
    # KS drifts at p <= threshold, chi-square and z below it, distances at or above it.
    assert drifted("ks", 0.05, 0.05)
    assert not drifted("chi2", 0.05, 0.05)
    assert drifted("psi", 0.1, 0.1)
    assert not drifted("jensen-shannon", 0.0999, 0.1)


def test_method_pairing() -> None:
    assert method_for("auto", "numeric", 100) == "ks"
    assert method_for("auto", "numeric", 4) == "chi2"
    assert method_for("auto", "numeric", 2) == "z"
    assert method_for("ks", "numeric", 2) == "ks"
    assert method_for("ks", "categorical", 7) == "chi2"
    assert method_for("wasserstein", "categorical", 7) == "jensen-shannon"
    assert method_for("wasserstein", "numeric", 5) == "jensen-shannon"
    assert method_for("wasserstein", "numeric", 6) == "wasserstein"
    assert method_for("psi", "categorical", 7) == "psi"


def test_drift_share_rule_is_at_or_above(tmp_path: Path) -> None:
    ref, cur = _dataset(800, seed=800)
    paths = write_table(ref, tmp_path / "r.parquet"), write_table(cur, tmp_path / "c.parquet")
    share = compare(*paths, Options()).drift_share
    assert compare(*paths, Options(drift_share=share)).dataset_drift
    assert not compare(*paths, Options(drift_share=min(share + 0.01, 1.0))).dataset_drift
