"""With a champion, evaluate never promotes a worse model by default (real MLflow server)."""

from __future__ import annotations

import json

import pytest

from tests.evaluate.conftest import Case

pytestmark = pytest.mark.services

DEFAULT = "accuracy >= champion (default)"


@pytest.mark.parametrize(
    "thresholds",
    ["", "accuracy >= 0.5\nf1 >= 0.5\nroc_auc >= 0.5", "# gates come later\n\n  # really\n"],
    ids=["empty", "only-absolute-rules", "only-comments"],
)
def test_a_worse_candidate_is_rejected_when_no_rule_compares_with_the_champion(
    case: Case, thresholds: str
) -> None:
    case.champion("strong")
    result = case.evaluate("weak", "--thresholds", thresholds)
    assert result.code == 1, result.stderr
    assert result.outputs["passed"] == "false"
    assert result.outputs["decision"] == "reject"
    assert f"{DEFAULT}: " in result.stderr
    metrics, champion = result.json("metrics"), result.json("champion-metrics")
    assert all(metrics[m] < champion[m] for m in metrics)  # worse on every metric

    report = (case.workspace / result.outputs["report-path"]).read_text()
    assert "| accuracy &gt;= champion (default) | ❌ fail" in report
    assert "the default rule accuracy &gt;= champion applies: no rule in thresholds" in report
    html = (case.workspace / "modelship-reports" / "evaluate.html").read_text()
    assert "accuracy &gt;= champion (default)" in html
    assert DEFAULT in [c.get("name") for c in case.junit()]


def test_a_better_candidate_passes_the_default_champion_rule(case: Case) -> None:
    case.champion("weak")
    result = case.evaluate("strong", "--thresholds", "accuracy >= 0.9")
    assert result.code == 0, result.stderr
    assert result.outputs["decision"] == "promote"
    assert [c.get("name") for c in case.junit()] == ["accuracy >= 0.9", DEFAULT]


def test_compare_with_champion_false_leaves_the_decision_to_the_given_rules(case: Case) -> None:
    case.champion("strong")
    result = case.evaluate(
        "weak", "--thresholds", "accuracy >= 0.5", "--compare-with-champion", "false"
    )
    assert result.code == 0, result.stderr
    assert result.outputs["passed"] == "true"
    assert result.outputs["decision"] == "promote"
    assert [c.get("name") for c in case.junit()] == ["accuracy >= 0.5"]
    report = (case.workspace / result.outputs["report-path"]).read_text()
    assert "compare-with-champion is false" in report


def test_a_rule_against_the_champion_replaces_the_default(case: Case) -> None:
    case.champion("strong")
    result = case.evaluate("weak", "--thresholds", "roc_auc >= champion - 0.5")
    assert result.code == 0, result.stderr
    assert [c.get("name") for c in case.junit()] == ["roc_auc >= champion - 0.5"]
    assert json.loads(result.outputs["champion-metrics"])["accuracy"] > 0.95
