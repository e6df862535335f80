"""Deploys against the Kubernetes API test server, smoke-tested through the service proxy.

The test server speaks the real REST protocol and simulates the controllers;
pods of images v1 and v2 answer the service proxy with the real MLflow
scoring server of this session.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import (
    EXPECTED,
    IMAGE_V1,
    IMAGE_V2,
    IMAGE_V3,
    PAYLOAD,
    PAYLOAD_CSV,
    Run,
    run_deploy,
)
from tests.harness.http import JsonHandler, LoopbackServer

NAME = "churn-staging"


def deploy(
    server: Any, workspace: Path, image: str, *extra: str, env: dict[str, str] | None = None
) -> Run:
    args = [
        "--image",
        image,
        "--model-name",
        "churn",
        "--environment",
        "staging",
        "--namespace",
        "ml",
        "--kubeconfig",
        server.kubeconfig.read_text(),
        "--smoke-payload",
        PAYLOAD,
        "--smoke-expect",
        EXPECTED,
        "--timeout",
        "60s",
        *extra,
    ]
    return run_deploy(workspace, args, env)


def image_of(server: Any, name: str = NAME) -> str:
    deployment = server.get("Deployment", name, "ml")
    assert deployment is not None, f"no Deployment {name}"
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return str(next(c["image"] for c in containers if c["name"] == "model"))


def test_first_deploy_applies_waits_and_smoke_tests(cluster: Any, tmp_path: Path) -> None:
    run = deploy(cluster, tmp_path, IMAGE_V1)
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "succeeded"
    assert run.outputs["revision"] == "1"
    assert run.outputs["previous-revision"] == ""
    assert run.outputs["rolled-back"] == "false"
    assert run.outputs["endpoint"] == f"http://{NAME}.ml.svc.cluster.local:80"
    deployment = cluster.get("Deployment", NAME, "ml")
    assert deployment["status"]["availableReplicas"] == 2
    assert {m["manager"] for m in deployment["metadata"]["managedFields"]} >= {"modelship"}
    # Server-side apply, as kubectl --server-side does it.
    applies = cluster.requests_matching("PATCH", f"/deployments/{NAME}")
    assert applies
    assert all(r.content_type.startswith("application/apply-patch+yaml") for r in applies)
    assert all(r.query.get("fieldManager") == ["modelship"] for r in applies)
    # The smoke test went through the API server's service proxy.
    assert cluster.requests_matching("POST", f"/services/{NAME}:http/proxy/invocations")
    report = run.report()
    assert "Rollout (rolling)" in report
    assert "rollout of Deployment/churn-staging complete" in report
    assert "smoke test through Service/churn-staging: passed" in report


def test_update_rolls_to_revision_2_and_keeps_the_kubeconfig_secret(
    cluster: Any, tmp_path: Path
) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1).code == 0
    outputs = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SHA": "f" * 40,
    }
    run = deploy(cluster, tmp_path, IMAGE_V2, env=env)
    assert run.code == 0, run.stderr
    assert (run.outputs["revision"], run.outputs["previous-revision"]) == ("2", "1")
    assert image_of(cluster) == IMAGE_V2
    annotations = cluster.get("Deployment", NAME, "ml")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["modelship.io/git-sha"] == "f" * 40
    # The token shows only inside the runner's own ::add-mask:: command.
    everything = run.everything() + outputs.read_text() + summary.read_text()
    shown = [line for line in everything.splitlines() if not line.startswith("::add-mask::")]
    assert not [line for line in shown if cluster.token in line]
    assert not [line for line in shown if "certificate-authority-data" in line]
    assert any(line == f"::add-mask::{cluster.token}" for line in everything.splitlines())


def test_progress_deadline_exceeded_rolls_back(cluster: Any, tmp_path: Path) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1).code == 0
    cluster.mark_image_broken(IMAGE_V3)
    run = deploy(cluster, tmp_path, IMAGE_V3, "--progress-deadline", "2s")
    assert run.code == 1, run.stderr
    assert run.outputs["status"] == "rolled-back"
    assert run.outputs["rolled-back"] == "true"
    assert run.outputs["previous-revision"] == "1"
    assert "ProgressDeadlineExceeded" in run.stderr or "progress deadline" in run.stderr
    assert "ImagePullBackOff" in run.stderr  # why the pods never became ready
    assert image_of(cluster) == IMAGE_V1
    deployment = cluster.get("Deployment", NAME, "ml")
    assert deployment["status"].get("availableReplicas") == 2
    assert "rolling back Deployment/churn-staging to the template of revision 1" in run.report()


def test_smoke_test_failure_rolls_back(cluster: Any, tmp_path: Path) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1).code == 0
    # v3's pods become ready but nothing answers behind them.
    run = deploy(cluster, tmp_path, IMAGE_V3)
    assert run.code == 1, run.stderr
    assert run.outputs["rolled-back"] == "true"
    assert "smoke test failed" in run.stderr
    assert image_of(cluster) == IMAGE_V1


def test_no_rollback_when_disabled(cluster: Any, tmp_path: Path) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1).code == 0
    run = deploy(cluster, tmp_path, IMAGE_V3, "--rollback-on-failure", "false")
    assert run.code == 1
    assert run.outputs["rolled-back"] == "false"
    assert run.outputs["status"] == "failed"
    assert image_of(cluster) == IMAGE_V3


def test_canary_is_smoke_tested_then_promoted(cluster: Any, tmp_path: Path) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1, "--replicas", "4").code == 0
    run = deploy(cluster, tmp_path, IMAGE_V2, "--replicas", "4", "--strategy", "canary")
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "succeeded"
    report = run.report()
    assert "canary: 1 pod(s) beside 4 stable, 20% of the traffic" in report
    assert "smoke test of the canary: passed" in report
    assert cluster.requests_matching("POST", "/services/churn-staging-canary:http/proxy/")
    assert image_of(cluster) == IMAGE_V2
    assert cluster.get("Deployment", f"{NAME}-canary", "ml") is None
    assert cluster.get("Service", f"{NAME}-canary", "ml") is None
    assert (run.outputs["revision"], run.outputs["previous-revision"]) == ("2", "1")


def test_failed_canary_is_removed_and_stable_untouched(cluster: Any, tmp_path: Path) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1).code == 0
    run = deploy(cluster, tmp_path, IMAGE_V3, "--strategy", "canary")
    assert run.code == 1, run.stderr
    assert run.outputs["rolled-back"] == "true"
    assert "canary smoke test failed" in run.stderr
    assert image_of(cluster) == IMAGE_V1
    assert cluster.get("Deployment", NAME, "ml")["metadata"]["generation"] == 1
    assert cluster.get("Deployment", f"{NAME}-canary", "ml") is None


def test_blue_green_switches_and_keeps_the_old_colour(cluster: Any, tmp_path: Path) -> None:
    first = deploy(cluster, tmp_path, IMAGE_V1, "--strategy", "blue-green")
    assert first.code == 0, first.stderr
    assert first.outputs["serving"] == f"{NAME}-blue"
    service = cluster.get("Service", NAME, "ml")
    assert service["spec"]["selector"]["modelship.io/color"] == "blue"

    second = deploy(cluster, tmp_path, IMAGE_V2, "--strategy", "blue-green")
    assert second.code == 0, second.stderr
    assert second.outputs["serving"] == f"{NAME}-green"
    service = cluster.get("Service", NAME, "ml")
    assert service["spec"]["selector"]["modelship.io/color"] == "green"
    # The old colour still runs, ready for an instant switch back.
    assert image_of(cluster, f"{NAME}-blue") == IMAGE_V1
    assert cluster.get("Deployment", f"{NAME}-blue", "ml")["status"]["readyReplicas"] == 2
    assert "switched Service/churn-staging from blue to green" in second.report()


class _Flaky(JsonHandler):
    """A model that answers the preview's smoke test, then breaks under live traffic."""

    good_answers = 3

    def do_POST(self) -> None:
        self.read_body()
        if type(self).good_answers > 0:
            type(self).good_answers -= 1
            self.send_json(200, {"predictions": [0, 1]})
        else:
            self.send_json(500, {"message": "model crashed"})


@pytest.fixture
def flaky_backend() -> Iterator[str]:
    _Flaky.good_answers = 3
    with LoopbackServer(_Flaky) as server:
        yield server.url


def test_blue_green_switches_back_when_live_traffic_fails(
    cluster: Any, tmp_path: Path, flaky_backend: str
) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1, "--strategy", "blue-green").code == 0
    cluster.set_backend(IMAGE_V3, flaky_backend)
    run = deploy(cluster, tmp_path, IMAGE_V3, "--strategy", "blue-green")
    assert run.code == 1, run.stderr
    assert run.outputs["rolled-back"] == "true"
    assert run.outputs["serving"] == f"{NAME}-blue"
    report = run.report()
    assert "smoke test of green through Service/churn-staging-preview: passed" in report
    assert "switched Service/churn-staging back to blue" in report
    service = cluster.get("Service", NAME, "ml")
    assert service["spec"]["selector"]["modelship.io/color"] == "blue"


def test_blue_green_failure_never_moves_traffic(cluster: Any, tmp_path: Path) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1, "--strategy", "blue-green").code == 0
    run = deploy(cluster, tmp_path, IMAGE_V3, "--strategy", "blue-green")
    assert run.code == 1
    assert run.outputs["rolled-back"] == "true"
    service = cluster.get("Service", NAME, "ml")
    assert service["spec"]["selector"]["modelship.io/color"] == "blue"


def test_missing_namespace_exits_2_and_creates_nothing(cluster: Any, tmp_path: Path) -> None:
    run = run_deploy(
        tmp_path,
        [
            "--image",
            IMAGE_V1,
            "--model-name",
            "churn",
            "--namespace",
            "nowhere",
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
    )
    assert run.code == 2, run.stderr
    assert "namespace 'nowhere' does not exist" in run.stderr
    assert cluster.requests_matching("PATCH") == []
    assert cluster.list("Deployment") == []


def test_dry_run_never_contacts_the_cluster(cluster: Any, tmp_path: Path) -> None:
    run = deploy(cluster, tmp_path, IMAGE_V1, "--dry-run")
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "dry-run"
    assert cluster.requests_matching() == []


def test_user_manifests_deploy(cluster: Any, tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "app.yaml").write_text(
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: churn-settings}
data: {THRESHOLD: "0.5"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: churn-staging}
spec:
  replicas: 1
  selector: {matchLabels: {app: churn}}
  template:
    metadata: {labels: {app: churn}}
    spec:
      containers:
        - name: model
          image: placeholder
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /ping, port: http}}
---
apiVersion: v1
kind: Service
metadata: {name: churn-staging}
spec:
  selector: {app: churn}
  ports: [{name: http, port: 80, targetPort: http}]
"""
    )
    run = deploy(cluster, tmp_path, IMAGE_V1, "--manifests", "k8s")
    assert run.code == 0, run.stderr
    assert cluster.get("ConfigMap", "churn-settings", "ml") is not None
    assert image_of(cluster) == IMAGE_V1


def test_generated_autoscaler_targets_the_deployment(cluster: Any, tmp_path: Path) -> None:
    # CSV rows, this time, through the service proxy.
    run = deploy(
        cluster, tmp_path, IMAGE_V1, "--autoscale-max", "5", "--smoke-payload", PAYLOAD_CSV
    )
    assert run.code == 0, run.stderr
    assert "smoke test through Service/churn-staging: passed" in run.report()
    hpa = cluster.get("HorizontalPodAutoscaler", NAME, "ml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == NAME
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)


def test_a_failed_first_deploy_has_nothing_to_roll_back(cluster: Any, tmp_path: Path) -> None:
    cluster.mark_image_broken(IMAGE_V3)
    run = deploy(cluster, tmp_path, IMAGE_V3, "--progress-deadline", "2s")
    assert run.code == 1
    assert run.outputs["status"] == "failed"
    assert run.outputs["rolled-back"] == "false"
    assert "no previous revision" in run.report()


def test_timeout_before_the_progress_deadline_rolls_back(cluster: Any, tmp_path: Path) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1).code == 0
    cluster.mark_image_broken(IMAGE_V3, "CrashLoopBackOff")
    run = deploy(cluster, tmp_path, IMAGE_V3, "--timeout", "3s")
    assert run.code == 1, run.stderr
    assert "timed out" in run.stderr
    assert run.outputs["rolled-back"] == "true"
    assert image_of(cluster) == IMAGE_V1


def test_smoke_url_is_used_instead_of_the_proxy(
    cluster: Any, tmp_path: Path, scoring_server: Any
) -> None:
    run = deploy(cluster, tmp_path, IMAGE_V1, "--smoke-url", scoring_server.endpoint)
    assert run.code == 0, run.stderr
    assert run.outputs["endpoint"] == scoring_server.endpoint
    assert cluster.requests_matching("POST", "/proxy/") == []


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_sees_the_rollout_history(cluster: Any, tmp_path: Path) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1).code == 0
    assert deploy(cluster, tmp_path, IMAGE_V2, env={"GITHUB_SHA": "abcdef1234567890"}).code == 0
    history = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "-n",
            "ml",
            "rollout",
            "history",
            f"deployment/{NAME}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert history.returncode == 0, history.stderr
    assert f"modelship deploy of {IMAGE_V2} at abcdef123456" in history.stdout


def test_a_payload_the_model_rejects_rolls_back_with_the_models_reason(
    cluster: Any, tmp_path: Path
) -> None:
    assert deploy(cluster, tmp_path, IMAGE_V1).code == 0
    run = deploy(cluster, tmp_path, IMAGE_V2, "--smoke-payload", '[{"x": 1}]')
    assert run.code == 1, run.stderr
    assert run.outputs["rolled-back"] == "true"
    assert "HTTP 400" in run.stderr
    assert "missing inputs" in run.stderr
    assert image_of(cluster) == IMAGE_V1
