"""Prometheus text exposition: escaping, values, grouping keys."""

from __future__ import annotations

import subprocess

from modelship import promexport


def test_label_values_are_escaped_and_promtool_accepts_them() -> None:
    registry = promexport.Registry()
    family = registry.family("modelship_feature_drift_score", "Help with a \\ and\na newline.")
    family.add({"model": "m", "feature": 'a"b\\c\nd', "method": "ks"}, 0.25)
    family.add({"model": "m", "feature": "inf", "method": "chi2"}, float("inf"))
    text = registry.render()
    assert 'feature="a\\"b\\\\c\\nd"' in text
    assert "# HELP modelship_feature_drift_score Help with a \\\\ and\\na newline." in text
    assert text.endswith("+Inf\n")
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grouping_url_encodes_slashes_in_base64() -> None:
    url = promexport.grouping_url("http://gw:9091/", "drift job", [("model", "team/churn")])
    assert url == "http://gw:9091/metrics/job/drift%20job/model@base64/dGVhbS9jaHVybg=="


def test_values_format_as_prometheus_floats() -> None:
    assert promexport.format_value(1.0) == "1"
    assert promexport.format_value(0.5) == "0.5"
    assert promexport.format_value(float("nan")) == "NaN"
    assert promexport.format_value(float("-inf")) == "-Inf"
    assert promexport.format_value(3.2e-80) == "3.2e-80"
