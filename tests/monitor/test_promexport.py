"""The monitor's Prometheus metrics: what promtool accepts and what the user sees."""

from __future__ import annotations

import subprocess
from pathlib import Path

from modelship.drift import prometheus as promexport


def _registry(feature: str = "age", dataset_drift: bool | None = True):  # type: ignore[no-untyped-def]
    return promexport.monitor_registry(
        "team/churn",
        [
            promexport.FeatureScore(feature, "ks", 0.25, 0.05, False),
            promexport.FeatureScore("plan", "chi2", 0.0, 0.05, True),
        ],
        dataset_drift=dataset_drift,
        drift_share=0.5,
        retrain=dataset_drift,
        not_judged=1,
        timestamp=1_700_000_000.0,
    )


def _promtool(text: str) -> None:
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_label_values_from_the_data_are_escaped_and_promtool_accepts_them() -> None:
    text = promexport.exposition(_registry('a"b\\c\nd'))
    assert 'feature="a\\"b\\\\c\\nd"' in text
    assert 'modelship_feature_drifted{feature="plan",method="chi2",model="team/churn"} 1.0' in text
    assert 'modelship_features_not_judged{model="team/churn"} 1.0' in text
    _promtool(text)


def test_an_unjudged_data_set_publishes_no_dataset_drift_sample(tmp_path: Path) -> None:
    target = tmp_path / "textfile" / "drift.prom"
    promexport.write_textfile(target, _registry(dataset_drift=None))
    text = target.read_text()
    assert "modelship_dataset_drift{" not in text
    assert "modelship_retrain{" not in text
    assert 'modelship_drift_share{model="team/churn"} 0.5' in text
    assert [p.name for p in target.parent.iterdir()] == ["drift.prom"]  # no temporary left
    _promtool(text)
