"""Parsing of the Kubernetes inputs of the train stage."""

from __future__ import annotations

import sys

import pytest

from modelship.ci.errors import UsageError
from modelship.kube.jobs.inputs import (
    parse_duration,
    parse_resources,
    parse_tolerations,
    pod_command,
)


def test_resources_set_request_and_limit_unless_one_side_is_named() -> None:
    assert parse_resources("nvidia.com/gpu=1\nmemory=16Gi\nrequests.cpu=500m\nlimits.cpu=2") == {
        "requests": {"nvidia.com/gpu": "1", "memory": "16Gi", "cpu": "500m"},
        "limits": {"nvidia.com/gpu": "1", "memory": "16Gi", "cpu": "2"},
    }
    assert parse_resources("") == {}


@pytest.mark.parametrize("value", ["16 Gi", "lots", "1.5.2", "-1", "16GB"])
def test_bad_quantities_are_refused(value: str) -> None:
    with pytest.raises(UsageError, match="not a Kubernetes quantity"):
        parse_resources(f"memory={value}")


def test_tolerations_in_taint_syntax_and_as_yaml() -> None:
    assert parse_tolerations("nvidia.com/gpu:NoSchedule\ndedicated=ml:NoExecute\nspot") == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute"},
        {"key": "spot", "operator": "Exists"},
    ]
    full = "- key: gpu\n  operator: Exists\n  effect: NoSchedule\n  tolerationSeconds: 60\n"
    assert parse_tolerations(full) == [
        {"key": "gpu", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}
    ]
    with pytest.raises(UsageError, match="unknown effect"):
        parse_tolerations("gpu:Never")


def test_durations() -> None:
    assert parse_duration("6h") == 21600
    assert parse_duration("90") == 90
    with pytest.raises(UsageError):
        parse_duration("six hours")


def test_the_pod_runs_tools_by_name_not_by_the_runners_paths() -> None:
    assert pod_command([sys.executable, "-m", "dvc", "repro"]) == ["dvc", "repro"]
    assert pod_command(["/opt/venv/bin/mlflow", "run", "."]) == ["mlflow", "run", "."]
    assert pod_command(["python", "train.py"]) == ["python", "train.py"]
