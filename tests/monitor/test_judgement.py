"""The monitor says when it cannot judge, and never calls unjudged data stable.

Each test runs `modelship monitor` as a user does and reads what a user reads:
the exit code, the outputs, the JSON and HTML reports, the log.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tests.foundation.helpers import parse_github_output
from tests.harness.cli import CliRun, run_cli
from tests.monitor.conftest import Webhook, drift_tables, write_table


def monitor(tmp_path: Path, ref: pa.Table, cur: pa.Table, *extra: str) -> CliRun:
    write_table(ref, tmp_path / "data" / "reference.parquet")
    write_table(cur, tmp_path / "data" / "current.parquet")
    return run_cli(
        [
            "monitor",
            "--reference",
            "data/reference.parquet",
            "--current",
            "data/current.parquet",
            "--json",
            *extra,
        ],
        tmp_path,
    )


def report(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "modelship-reports" / "monitor-drift.json").read_text())  # type: ignore[no-any-return]


def feature(tmp_path: Path, name: str) -> dict[str, Any]:
    return next(f for f in report(tmp_path)["features"] if f["feature"] == name)


def stable_pair(rows: int, seed: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    ref = {"a": rng.normal(0, 1, rows), "b": rng.normal(5, 2, rows)}
    cur = {"a": rng.normal(0, 1, rows), "b": rng.normal(5, 2, rows)}
    return ref, cur


def assert_not_judged_verdict(run: CliRun) -> None:
    """What a user of an unjudgeable run sees: no verdict, a failed step, a reason."""
    assert run.code == 1, run.stderr
    assert run.outputs["status"] == "insufficient-data"
    assert run.outputs["drift-detected"] == ""
    assert run.outputs["retrain"] == ""
    assert "cannot judge drift" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("rows", [400, 4_000, 40_000])
def test_a_mostly_missing_current_column_is_never_called_stable(tmp_path: Path, rows: int) -> None:
    ref, cur = stable_pair(rows)
    rng = np.random.default_rng(7)
    ref["x"] = rng.normal(0, 1, rows)
    kept = rows // 400  # 99.75 % missing
    cur["x"] = pa.array([*rng.normal(0, 1, kept), *([None] * (rows - kept))], pa.float64())
    run = monitor(tmp_path, pa.table(ref), pa.table(cur))
    assert_not_judged_verdict(run)
    x = feature(tmp_path, "x")
    assert x["drifted"] is True
    assert x["missing_share_rose"] is True
    assert "missing share rose from 0.00% to 99.75%" in x["note"]
    assert "'x'" in run.stderr
    assert json.loads(run.outputs["drifted-features"]) == ["x"]


def test_a_single_current_row_is_insufficient_data_even_with_partial_judgement(
    tmp_path: Path,
) -> None:
    ref, cur = drift_tables(500)
    for extra in ((), ("--allow-partial", "true")):
        run = monitor(tmp_path, ref, cur.slice(0, 1), *extra)
        assert_not_judged_verdict(run)
        assert "no feature could be judged" in run.stderr
        for item in report(tmp_path)["features"]:
            assert item["judged"] is False
            assert item["drifted"] is None
            assert "only 1 non-missing value in the current data" in item["note"]


def _categories(rng: np.random.Generator, low: int, high: int, rows: int) -> pa.Array:
    return pa.array([f"c{v}" for v in rng.integers(low, high, rows)])


@pytest.mark.parametrize(
    ("current_range", "what"),
    [((3_000, 15_000), "a shift over the same kind of values"), ((15_000, 45_000), "new values")],
)
def test_a_shifted_category_column_with_more_than_10000_values_is_drift(
    tmp_path: Path, current_range: tuple[int, int], what: str
) -> None:
    rows = 60_000
    rng = np.random.default_rng(3)
    ref = {"city": _categories(rng, 0, 30_000 if what == "new values" else 12_000, rows)}
    cur = {"city": _categories(rng, *current_range, rows)}
    ref["a"], cur["a"] = rng.normal(0, 1, rows), rng.normal(0, 1, rows)
    run = monitor(tmp_path, pa.table(ref), pa.table(cur))
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "drift"
    assert run.outputs["drift-detected"] == "true"
    city = feature(tmp_path, "city")
    assert city["judged"] is True
    assert city["drifted"] is True
    assert city["method"] == "chi2"


def test_an_unchanged_category_column_with_more_than_10000_values_is_judged_stable(
    tmp_path: Path,
) -> None:
    rows = 60_000
    rng = np.random.default_rng(4)
    weights = rng.pareto(1.2, 20_000) + 0.01
    weights /= weights.sum()
    ref = {"city": pa.array([f"c{v}" for v in rng.choice(20_000, rows, p=weights)])}
    cur = {"city": pa.array([f"c{v}" for v in rng.choice(20_000, rows, p=weights)])}
    run = monitor(tmp_path, pa.table(ref), pa.table(cur), "--categorical", "city")
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "stable"
    assert feature(tmp_path, "city")["judged"] is True


def test_a_rise_of_the_missing_share_is_drift_even_when_enough_values_remain(
    tmp_path: Path,
) -> None:
    rows = 20_000
    ref, cur = stable_pair(rows)
    rng = np.random.default_rng(8)
    ref["x"] = rng.normal(0, 1, rows)
    values = rng.normal(0, 1, rows)  # the same distribution, 30 % of it gone
    cur["x"] = pa.array([None if i % 10 < 3 else v for i, v in enumerate(values)], pa.float64())
    run = monitor(tmp_path, pa.table(ref), pa.table(cur))
    assert_not_judged_verdict(run)
    x = feature(tmp_path, "x")
    assert x["judged"] is True
    assert x["method"] == "ks"
    assert x["drifted"] is True
    assert "missing share rose from 0.00% to 30.00%" in x["note"]

    tolerant = monitor(tmp_path, pa.table(ref), pa.table(cur), "--max-missing-increase", "0.5")
    assert tolerant.code == 0, tolerant.stderr
    assert tolerant.outputs["status"] == "stable"
    assert feature(tmp_path, "x")["drifted"] is False


def test_partial_judgement_is_allowed_only_when_asked(tmp_path: Path) -> None:
    rows = 2_000
    ref, cur = stable_pair(rows)
    rng = np.random.default_rng(9)
    for side in (ref, cur):  # 20 values on each side: too few, and no rise
        side["rare"] = pa.array([*rng.normal(0, 1, 20), *([None] * (rows - 20))], pa.float64())
    strict = monitor(
        tmp_path, pa.table(ref), pa.table(cur), "--metrics-file", "drift.prom", "--model-name", "m"
    )
    assert_not_judged_verdict(strict)
    rare = feature(tmp_path, "rare")
    assert rare["judged"] is False
    assert (
        "only 20 non-missing values in the reference data, fewer than min-samples (30)"
        in (rare["note"])
    )
    metrics = (tmp_path / "drift.prom").read_text()
    assert "modelship_dataset_drift{" not in metrics
    assert 'modelship_features_not_judged{model="m"} 1.0' in metrics
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    page = (tmp_path / "modelship-reports" / "monitor-drift.html").read_text()
    assert "Not enough data to judge" in page
    assert "rare: only 20 non-missing values in the reference data" in page

    partial = monitor(tmp_path, pa.table(ref), pa.table(cur), "--allow-partial", "true")
    assert partial.code == 0, partial.stderr
    assert partial.outputs["status"] == "stable"
    assert partial.outputs["drift-detected"] == "false"
    assert "feature 'rare' not judged: only 20 non-missing values" in partial.stderr

    fewer = monitor(tmp_path, pa.table(ref), pa.table(cur), "--min-samples", "20")
    assert fewer.code == 0, fewer.stderr
    assert fewer.outputs["status"] == "stable"


def test_drift_in_the_judged_features_alone_needs_no_partial_permission(tmp_path: Path) -> None:
    rows = 2_000
    rng = np.random.default_rng(10)
    ref = {"a": rng.normal(0, 1, rows), "b": rng.normal(0, 1, rows)}
    cur = {"a": rng.normal(1, 1, rows), "b": rng.normal(1, 1, rows)}
    for side in (ref, cur):
        side["rare"] = pa.array([*rng.normal(0, 1, 5), *([None] * (rows - 5))], pa.float64())
    run = monitor(tmp_path, pa.table(ref), pa.table(cur))
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "drift"
    assert run.outputs["drift-detected"] == "true"
    assert run.outputs["retrain"] == "true"
    assert sorted(json.loads(run.outputs["drifted-features"])) == ["a", "b"]


def test_a_column_of_an_unsupported_type_is_not_judged(tmp_path: Path) -> None:
    rows = 500
    ref, cur = stable_pair(rows)
    stamps = pa.array(np.arange(rows, dtype="int64") * 1_000, pa.timestamp("ms"))
    ref["seen_at"], cur["seen_at"] = stamps, stamps
    run = monitor(tmp_path, pa.table(ref), pa.table(cur))
    assert_not_judged_verdict(run)
    seen_at = feature(tmp_path, "seen_at")
    assert seen_at["judged"] is False
    assert "not supported" in seen_at["note"]


def test_a_column_that_became_empty_is_drift(tmp_path: Path) -> None:
    ref, cur = drift_tables(200)
    cur = cur.set_column(0, "stable", pa.array([float("nan")] * 100 + [None] * 100, pa.float64()))
    run = monitor(tmp_path, ref, cur)
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "drift"
    assert "stable" in json.loads(run.outputs["drifted-features"])
    assert "missing share rose from 0.00% to 100.00%" in feature(tmp_path, "stable")["note"]


def test_the_step_summary_says_per_feature_why_it_was_not_judged(tmp_path: Path) -> None:
    ref, cur = drift_tables(500)
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    write_table(ref, tmp_path / "data" / "reference.parquet")
    write_table(cur.slice(0, 10), tmp_path / "data" / "current.parquet")
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }
    run = run_cli(
        ["monitor", "--reference", "data/reference.parquet", "--current", "data/current.parquet"],
        tmp_path,
        env,
    )
    assert run.code == 1, run.stderr
    outputs = parse_github_output(output.read_text())
    assert outputs["status"] == "insufficient-data"
    assert outputs["drift-detected"] == ""
    text = summary.read_text()
    assert "Not enough data to judge" in text
    assert "| shifted | not judged |" in text
    assert "only 10 non-missing values in the current data" in text


def test_the_webhook_hears_when_the_data_could_not_be_judged(
    tmp_path: Path, webhook: Webhook
) -> None:
    ref, cur = drift_tables(500)
    run = monitor(tmp_path, ref, cur.slice(0, 3), "--webhook-url", webhook.url)
    assert_not_judged_verdict(run)
    assert len(webhook.received) == 1
    text = webhook.received[0]["text"]
    assert text.startswith("*Drift not judged: too little data* for model")
    assert "Not judged (see the report): `stable`, `shifted`, `colour`, `plan`." in text
    assert "Retraining" not in text
