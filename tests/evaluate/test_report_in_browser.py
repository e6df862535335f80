"""The evaluation report opens in a browser with its table and its charts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evaluate.conftest import Case
from tests.harness.browser import read_page, rendered_dom

pytestmark = pytest.mark.services


def test_evaluation_report_renders_its_table_and_confusion_matrices_in_chromium(
    case: Case, tmp_path: Path
) -> None:
    case.champion("weak")
    result = case.evaluate("strong", "--thresholds", "accuracy >= 0.90\nf1 >= champion")
    assert result.code == 0, result.stderr

    page = read_page(rendered_dom(case.workspace / "modelship-reports" / "evaluate.html", tmp_path))

    metrics = next(t for t in page.tables if t.headers[:3] == ["metric", "candidate", "champion"])
    assert metrics.rows >= 2  # one row per metric with a rule, at least
    assert "rule" in metrics.headers
    # One confusion matrix per model, each a grid of cells drawn as shapes.
    assert len(page.charts) == 2
    assert all(shapes >= 4 for shapes in page.charts), page.charts
