"""Every deploy input is checked before a file is written or the cluster is contacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import kubeconfig_for, run_deploy
from tests.harness.http import LoopbackServer, Recorded, RefusingHandler


@pytest.fixture
def cluster_url() -> Iterator[tuple[str, list[Recorded]]]:
    """An API server that records every request: none may arrive."""
    with LoopbackServer(RefusingHandler) as server:
        yield server.url, server.requests


BAD_INPUTS = [
    ("namespace", "ML_Staging"),
    ("namespace", "a" * 64),
    ("name", "Churn"),
    ("name", "1churn"),
    ("replicas", "99999999999"),
    ("container-port", "99999"),
    ("container-port", "0"),
    ("timeout", "0s"),
    ("timeout", "0"),
    ("timeout", "999999999h"),
    ("progress-deadline", "0m"),
    ("latency-budget-ms", "-5"),
    ("latency-budget-ms", "0"),
    ("smoke-requests", "99999999"),
    ("smoke-url", "ftp://churn.example.com"),
    ("smoke-url", "http://"),
    ("smoke-url", "http://churn.example.com:99999/"),
    ("smoke-url", "https://churn.example.com/\u2028::set-output name=x::y"),
    ("autoscale-max", "0"),
    ("autoscale-cpu", "0"),
    ("resources", "requests.cpu=abc"),
    ("resources", "limits.memory=-1Gi"),
    ("image", "registry.local/churn:1 --privileged"),
    ("model-uri", "models:/churn/1\n::set-output name=x::y"),
    ("model-name", "churn\r\x1b[2Kpwned"),
    ("kube-context", "ctx\n::stop-commands::x"),
    ("port", "70000"),
]


@pytest.mark.parametrize(("name", "value"), BAD_INPUTS, ids=[f"{n}={v!r}" for n, v in BAD_INPUTS])
def test_a_bad_input_stops_the_deploy_before_any_side_effect(
    tmp_path: Path, cluster_url: tuple[str, list[Recorded]], name: str, value: str
) -> None:
    url, seen = cluster_url
    args = ["--image", "registry.local/churn:1", "--model-name", "churn"]
    args += ["--kubeconfig", kubeconfig_for(url), f"--{name}", value]

    run = run_deploy(tmp_path, args)

    assert run.code == 2, run.stderr
    assert seen == []  # the cluster was never contacted
    assert not (tmp_path / "modelship-reports" / "manifests").exists()  # nothing rendered
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr
    assert f"'{name}'" in errors[0]
    assert "Traceback" not in run.stderr


def test_a_canary_needs_a_weight_above_zero(
    tmp_path: Path, cluster_url: tuple[str, list[Recorded]]
) -> None:
    url, seen = cluster_url
    args = ["--image", "img:1", "--model-name", "churn", "--kubeconfig", kubeconfig_for(url)]
    run = run_deploy(tmp_path, [*args, "--strategy", "canary", "--canary-weight", "0"])
    assert run.code == 2, run.stderr
    assert "input 'canary-weight'" in run.stderr
    assert "Traceback" not in run.stderr
    assert seen == []


def test_good_edge_values_are_accepted(tmp_path: Path) -> None:
    run = run_deploy(
        tmp_path,
        [
            "--image",
            "registry.local/team/churn@sha256:" + "a" * 64,
            "--model-name",
            "churn",
            "--namespace",
            "a" * 63,
            "--replicas",
            "0",
            "--container-port",
            "65535",
            "--timeout",
            "24h",
            "--smoke-url",
            "https://churn.example.com:8443/v1",
            "--resources",
            "requests.cpu=0.5,limits.memory=1.5Gi",
            "--dry-run",
        ],
    )
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "dry-run"
