"""The deploy action and template in users' own workflows: real act, real gitlab-ci-local.

* act: deploy `local` (MLflow scoring server for a model, smoke-tested), then
  deploy `kubernetes` against the Kubernetes API test server, the kubeconfig
  passed as a secret.
* gitlab-ci-local: deploy `local` from the GitLab template, its outputs read by
  a later job through the dotenv report.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import EXPECTED, IMAGE_V1, PAYLOAD
from tests.harness.checkout import gitlab_templates, init_project
from tests.harness.runners import run_act, run_gitlab

pytestmark = pytest.mark.e2e

CHECKOUT = "actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0"

WORKFLOW = f"""\
name: deploy
on: push
permissions: {{}}
jobs:
  local:
    runs-on: ubuntu-latest
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - uses: modelship/modelship/actions/deploy@v1
        id: deploy
        with:
          target: local
          model-uri: ${{{{ env.MODEL_DIR }}}}
          smoke-payload: smoke.json
          smoke-expect: "{EXPECTED}"
          timeout: 5m
      - env:
          STATUS: ${{{{ steps.deploy.outputs.status }}}}
          ENDPOINT: ${{{{ steps.deploy.outputs.endpoint }}}}
        run: echo "local-deploy status=$STATUS endpoint=$ENDPOINT"
  kubernetes:
    runs-on: ubuntu-latest
    needs: local
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - uses: modelship/modelship/actions/deploy@v1
        id: deploy
        with:
          image: {IMAGE_V1}
          model-name: churn
          environment: staging
          namespace: ml
          kubeconfig: ${{{{ secrets.KUBECONFIG }}}}
          smoke-payload: smoke.json
          smoke-expect: "{EXPECTED}"
          timeout: 2m
      - env:
          STATUS: ${{{{ steps.deploy.outputs.status }}}}
          REVISION: ${{{{ steps.deploy.outputs.revision }}}}
          ENDPOINT: ${{{{ steps.deploy.outputs.endpoint }}}}
        run: echo "kube-deploy status=$STATUS revision=$REVISION endpoint=$ENDPOINT"
"""


def test_deploy_local_and_kubernetes_with_act(
    tmp_path: Path,
    cluster: Any,
    model_dir: Path,
    modelship_checkout: Path,
    action_venv: Path,
) -> None:
    project = init_project(
        tmp_path / "user-repo",
        {".github/workflows/deploy.yml": WORKFLOW, "smoke.json": PAYLOAD},
    )
    run = run_act(
        project,
        modelship_checkout,
        env={"MODEL_DIR": str(model_dir)},
        secrets={"KUBECONFIG": cluster.kubeconfig.read_text()},
        venv=action_venv,
        timeout=1500,
    ).check()
    assert "local-deploy status=succeeded endpoint=http://127.0.0.1:" in run.output
    assert (
        "kube-deploy status=succeeded revision=1 "
        "endpoint=http://churn-staging.ml.svc.cluster.local:80" in run.output
    )
    deployment = cluster.get("Deployment", "churn-staging", "ml")
    assert deployment["status"]["availableReplicas"] == 2
    assert cluster.requests_matching("POST", "/services/churn-staging:http/proxy/invocations")


PIPELINE = """\
stages: [deploy, check]
include:
  - local: modelship/deploy.yml
    inputs:
      install: "{install}"
      target: local
      model-uri: "{model}"
      smoke-payload: smoke.json
      smoke-expect: "{expected}"
      timeout: 5m
check:
  stage: check
  needs: [modelship-deploy]
  script:
    - echo "handed-over status=$MODELSHIP_DEPLOY_STATUS endpoint=$MODELSHIP_DEPLOY_ENDPOINT"
"""


def test_deploy_local_with_gitlab_ci_local(
    tmp_path: Path, model_dir: Path, modelship_checkout: Path, gitlab_python: Path
) -> None:
    project = init_project(
        tmp_path / "gl-repo",
        {
            ".gitlab-ci.yml": PIPELINE.format(
                install=f"{modelship_checkout}[kube,mlflow]", model=model_dir, expected=EXPECTED
            ),
            **gitlab_templates(modelship_checkout, "deploy"),
            "smoke.json": PAYLOAD,
        },
    )
    run = run_gitlab(project, python_bin=gitlab_python, timeout=1500).check()
    assert "handed-over status=succeeded endpoint=http://127.0.0.1:" in run.output
    outputs = json.loads((project / ".modelship" / "outputs" / "deploy.json").read_text())
    assert outputs["status"] == "succeeded"
    # Not kept running: nothing answers on the endpoint any more.
    port = int(outputs["endpoint"].rsplit(":", 1)[1])
    probe = subprocess.run(
        ["python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)"],
        capture_output=True,
        check=False,
    )
    assert probe.returncode != 0
