"""The monitoring examples: alert rules (promtool), dashboard and workflows."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "workflows-examples" / "monitoring"
PUBLISHED = {
    "modelship_feature_drift_score",
    "modelship_feature_drifted",
    "modelship_feature_drift_threshold",
    "modelship_dataset_drift",
    "modelship_drift_share",
    "modelship_drifted_features",
    "modelship_retrain",
    "modelship_model_performance",
    "modelship_performance_drop",
    "modelship_monitor_last_run_timestamp_seconds",
    "modelship_features_not_judged",
}


def test_alert_rules_pass_promtool_check() -> None:
    done = subprocess.run(
        ["promtool", "check", "rules", "alerts.yml"], cwd=EXAMPLES, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_alert_rules_unit_tests_pass() -> None:
    done = subprocess.run(
        ["promtool", "test", "rules", "alerts.test.yml"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rules_and_dashboard_use_only_published_metrics() -> None:
    from modelship.drift import prometheus as promexport

    registry = promexport.monitor_registry(
        "m",
        [promexport.FeatureScore("f", "ks", 0.5, 0.05, False)],
        dataset_drift=True,
        drift_share=0.5,
        retrain=True,
        performance={"accuracy": (0.9, 0.8)},
        performance_drop=0.1,
        timestamp=1.0,
    )
    assert promexport.metric_names(registry) == PUBLISHED
    used = set(re.findall(r"modelship_[a-z_]+", (EXAMPLES / "alerts.yml").read_text()))
    dashboard = json.loads((EXAMPLES / "grafana-dashboard.json").read_text())
    used |= set(re.findall(r"modelship_[a-z_]+", json.dumps(dashboard)))
    assert used - {"modelship_drift"} <= PUBLISHED  # the dashboard uid is not a metric
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_github_retrain_loop() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-monitor.yml").read_text())
    jobs = workflow["jobs"]
    assert workflow["permissions"] == {}
    assert jobs["monitor"]["permissions"] == {"contents": "read", "issues": "write"}
    assert jobs["retrain"]["permissions"] == {"actions": "write"}
    assert jobs["retrain"]["if"] == "needs.monitor.outputs.retrain == 'true'"
    assert jobs["monitor"]["outputs"]["retrain"] == "${{ steps.drift.outputs.retrain }}"
    script = jobs["retrain"]["steps"][0]["run"]
    assert "actions/workflows/train.yml/dispatches" in script
    assert "${{" not in script


def test_gitlab_retrain_loop() -> None:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-monitor.yml").read_text())
    inputs = pipeline["include"][0]["inputs"]
    assert inputs["open-issue"] is True  # typed spec:inputs: a boolean, not the string

    script = "\n".join(pipeline["retrain"]["script"])
    assert "MODELSHIP_MONITOR_RETRAIN" in script
    assert "trigger/pipeline" in script
    assert "CI_JOB_TOKEN" in script
