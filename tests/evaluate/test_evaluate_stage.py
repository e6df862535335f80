"""The evaluate stage against a real MLflow server: gates, significance, fail-closed."""

from __future__ import annotations

import pytest

from tests.evaluate.conftest import Case, run_cli

pytestmark = pytest.mark.services


def test_better_candidate_passes_an_improvement_rule(case: Case) -> None:
    from mlflow import MlflowClient

    version = case.champion("weak")
    result = case.evaluate(
        "strong", "--thresholds", "accuracy >= 0.90\nf1 >= champion\nroc_auc >= champion - 0.01"
    )
    assert result.code == 0, result.stderr
    out = result.outputs
    assert out["passed"] == "true"
    assert out["decision"] == "promote"
    assert out["champion-version"] == version
    metrics, champ = result.json("metrics"), result.json("champion-metrics")
    assert metrics["accuracy"] == pytest.approx(0.9789, abs=1e-3)
    assert champ["accuracy"] == pytest.approx(0.9018, abs=1e-3)
    deltas = result.json("deltas")
    assert deltas["f1"]["ci_low"] > 0  # the whole interval is an improvement
    assert deltas["f1"]["p_value"] < 0.05
    assert deltas["accuracy"]["delta"] == pytest.approx(metrics["accuracy"] - champ["accuracy"])

    report = (case.workspace / out["report-path"]).read_text()
    assert "| metric | candidate | champion | delta | 95% interval | rule | result |" in report
    assert "| f1 &gt;= champion | ✅ pass (significant, p=" in report  # escaped `>=`
    html = (case.workspace / "modelship-reports" / "evaluate.html").read_text()
    assert html.count("<svg") == 2
    assert "confusion matrix" in html

    suite = case.junit()
    assert (suite.get("tests"), suite.get("failures")) == ("3", "0")
    assert [c.get("name") for c in suite] == [
        "accuracy >= 0.9",
        "f1 >= champion",
        "roc_auc >= champion - 0.01",
    ]

    # The evaluation is an MLflow run nested under the candidate's run.
    client = MlflowClient(case.tracking_uri)
    run = client.get_run(out["evaluation-run-id"])
    assert run.data.tags["mlflow.parentRunId"] == case.models.run_ids["strong"]
    assert run.data.tags["modelship.decision"] == "promote"
    assert run.data.metrics["candidate.accuracy"] == pytest.approx(metrics["accuracy"])
    assert run.data.metrics["champion.accuracy"] == pytest.approx(champ["accuracy"])
    assert "delta.f1.ci_low" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert {
        "reports/evaluate.md",
        "reports/evaluate.html",
        "reports/evaluate.junit.xml",
    } <= artifacts


def test_worse_candidate_fails(case: Case) -> None:
    case.champion("strong")
    result = case.evaluate("weak", "--thresholds", "f1 >= champion - 0.01")
    assert result.code == 1
    assert result.outputs["passed"] == "false"
    assert result.outputs["decision"] == "reject"
    assert "f1 >= champion - 0.01: " in result.stderr
    assert "does not hold" in result.stderr
    assert case.junit().get("failures") == "1"


def test_worse_candidate_only_reports_without_fail_on_regression(case: Case) -> None:
    case.champion("strong")
    result = case.evaluate(
        "weak", "--thresholds", "accuracy >= champion", "--fail-on-regression", "false"
    )
    assert result.code == 0
    assert result.outputs["passed"] == "false"
    assert result.outputs["decision"] == "reject"


def test_tie_within_noise_fails_an_improvement_rule_but_not_without_significance(
    case: Case,
) -> None:
    case.champion("near")
    tested = case.evaluate("strong", "--thresholds", "accuracy >= champion")
    # The candidate is ahead on the point estimate (one row of 285) ...
    delta = tested.json("deltas")["accuracy"]
    assert 0 < delta["delta"] < 0.01
    assert delta["ci_low"] < 0 < delta["ci_high"]
    # ... which is noise: the improvement rule fails.
    assert tested.code == 1
    assert tested.outputs["decision"] == "reject"
    assert "not significant" in tested.stderr
    untested = case.evaluate(
        "strong", "--thresholds", "accuracy >= champion", "--significance", "off"
    )
    assert untested.code == 0, untested.stderr
    assert untested.outputs["decision"] == "promote"


def test_no_champion_applies_only_absolute_rules(case: Case) -> None:
    result = case.evaluate("strong", "--thresholds", "accuracy >= 0.95\nf1 >= champion")
    assert result.code == 0, result.stderr
    assert result.outputs["decision"] == "no-champion"
    assert result.json("champion-metrics") == {}
    assert case.junit().get("skipped") == "1"
    failing = case.evaluate("weak", "--thresholds", "accuracy >= 0.95")
    assert failing.code == 1
    assert failing.outputs["decision"] == "reject"


def test_nan_predictions_fail_closed(case: Case) -> None:
    result = case.evaluate("nan", "--task", "regression")
    assert result.code == 1
    assert result.outputs["passed"] == "false"
    assert "285 NaN or infinite predictions" in result.stderr
    assert "failed closed" in result.stderr
    suite = case.junit()
    assert suite[0].get("name") == "evaluation"
    assert suite.get("failures") == "1"


def test_nan_metric_fails_closed(case: Case) -> None:
    # A validation set with a single class: roc_auc is undefined (NaN).
    frame = case.models.validation[case.models.validation["label"] == 1]
    frame.to_csv(case.workspace / "data" / "validation.csv", index=False)
    result = case.evaluate(
        "strong", "--metrics", "accuracy,roc_auc", "--thresholds", "accuracy >= 0.5"
    )
    assert result.code == 1
    assert "roc_auc=nan" in result.stderr
    assert result.outputs["passed"] == "false"
    assert result.json("metrics")["roc_auc"] is None  # JSON outputs never hold NaN


def test_prediction_count_mismatch_fails_closed(case: Case) -> None:
    result = case.evaluate("short")
    assert result.code == 1
    assert "284 predictions for 285 rows" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n", "no rows"),
        ("", "empty"),
        ("mean radius,other\n1,2\n", "label column 'label' is not in the data"),
    ],
)
def test_bad_data_is_a_usage_error(case: Case, content: str, message: str) -> None:
    (case.workspace / "data" / "validation.csv").write_text(content)
    result = case.evaluate("strong")
    assert result.code == 2
    assert message in result.stderr


def test_rule_errors_name_line_and_column(case: Case) -> None:
    result = case.evaluate("strong", "--thresholds", "accuracy >= 0.9\nf1 => champion")
    assert result.code == 2
    assert "thresholds line 2, column 4" in result.stderr


def test_parquet_and_jsonl_data(case: Case) -> None:
    validation = case.models.validation
    validation.to_parquet(case.workspace / "data" / "validation.parquet")
    validation.to_json(case.workspace / "data" / "validation.jsonl", orient="records", lines=True)
    seen = []
    for name in ("validation.parquet", "validation.jsonl"):
        args = ["evaluate", "--model-uri", case.models.uris["strong"], "--model-name", case.name]
        args += ["--data", f"data/{name}", "--target", "label", "--bootstrap-samples", "0"]
        result = run_cli(args, case.workspace, case.env)
        assert result.code == 0, result.stderr
        seen.append(result.json("metrics")["accuracy"])
    assert seen[0] == seen[1] == pytest.approx(0.9789, abs=1e-3)


def test_regression_report_has_a_residual_plot(case: Case) -> None:
    case.champion("linear")
    result = case.evaluate(
        "linear", "--task", "regression", "--thresholds", "rmse <= champion * 1.05"
    )
    assert result.code == 0, result.stderr
    assert set(result.json("metrics")) == {"rmse", "mae", "r2"}
    assert result.json("deltas")["rmse"]["delta"] == 0
    html = (case.workspace / "modelship-reports" / "evaluate.html").read_text()
    assert "residuals" in html
    assert "<circle" in html
