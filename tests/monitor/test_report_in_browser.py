"""The drift report opens in a browser with its table and one histogram per feature."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness.browser import read_page, rendered_dom
from tests.harness.cli import run_cli


def test_drift_report_renders_its_table_and_histograms_in_chromium(
    drift_files: tuple[Path, Path], tmp_path: Path
) -> None:
    workspace = drift_files[0].parents[1]
    run = run_cli(
        ["monitor", "--reference", "data/reference.parquet", "--current", "data/current.parquet",
         "--json"],
        workspace,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    features = json.loads(run.stdout)
    profile = tmp_path / "chromium-profile"

    page = read_page(rendered_dom(workspace / "modelship-reports" / "monitor-drift.html", profile))

    assert len(page.tables) == 1
    table = page.tables[0]
    assert table.headers[0] == "feature"
    assert table.rows == len(page.charts) >= 2
    # Each histogram draws reference and current bars per bin, and a legend.
    assert all(shapes >= 6 for shapes in page.charts), page.charts
    assert json.loads(features["drifted-features"])
