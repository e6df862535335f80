"""The train action with `backend: kubernetes` in a user's workflow, through real act:
the Job's pod (a local process of the Kubernetes API test server) trains for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data_train.test_train_stage import get_run
from tests.fakes.kube_server import KubeServer
from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.checkout import git
from tests.harness.runners import run_act
from tests.train_kube.conftest import IMAGE, pod_env

pytestmark = pytest.mark.e2e

WORKFLOW = f"""\
name: train
on: push
permissions: {{}}
jobs:
  train:
    runs-on: ubuntu-latest
    steps:
      - uses: modelship/modelship/actions/train@v1
        id: train
        with:
          backend: kubernetes
          image: {IMAGE}
          command: python train.py
          experiment: kube-act
          kubeconfig: ${{{{ secrets.KUBECONFIG }}}}
          resources: |
            nvidia.com/gpu=1
            memory=2Gi
          tolerations: nvidia.com/gpu:NoSchedule
          active-deadline: 10m
      - env:
          RUN_ID: ${{{{ steps.train.outputs.run-id }}}}
          MODEL_URI: ${{{{ steps.train.outputs.model-uri }}}}
          METRICS: ${{{{ steps.train.outputs.metrics }}}}
        run: echo "handed-over run=$RUN_ID model=$MODEL_URI metrics=$METRICS"
"""


def test_train_on_kubernetes_with_act(
    kube: KubeServer,
    mlflow_tracking: MlflowServer,
    workspace: Path,
    modelship_checkout: Path,
    action_venv: Path,
) -> None:
    kube.set_job_process(IMAGE, workspace, pod_env())
    workflow = workspace / ".github" / "workflows" / "train.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(WORKFLOW)
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "workflow")

    run = run_act(
        workspace,
        modelship_checkout,
        env={"MLFLOW_TRACKING_URI": mlflow_tracking.uri},
        secrets={"KUBECONFIG": kube.kubeconfig.read_text()},
        venv=action_venv,
        timeout=1800,
    ).check()
    line = next(
        x for x in run.output.splitlines() if "handed-over run=" in x and "$RUN_ID" not in x
    )
    run_id = line.split("run=", 1)[1].split()[0]
    assert "model=models:/m-" in line
    assert '"accuracy":0.75' in line
    assert get_run(mlflow_tracking, run_id)["info"]["status"] == "FINISHED"
    assert "epoch 2 loss=0.4" in run.output  # the pod's log in the CI log
    assert kube.token not in run.output
    (job,) = kube.list("jobs")
    assert job["metadata"]["labels"]["modelship.io/run-id"] == run_id
