"""evaluate -> register -> promote in a user's workflow, with real `act` and `gitlab-ci-local`."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship.tracking import registry
from modelship.tracking.client import open_client
from tests.evaluate.conftest import Models, make_champion
from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.checkout import gitlab_templates, init_project
from tests.harness.runners import run_act, run_gitlab

pytestmark = pytest.mark.e2e

GITHUB_WORKFLOW = """\
name: ship
on: workflow_dispatch
permissions: {{}}
jobs:
  ship:
    runs-on: ubuntu-latest
    concurrency: promote-{name}
    steps:
      - uses: actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0
        with:
          persist-credentials: false
      - uses: modelship/modelship/actions/evaluate@v1
        id: evaluate
        with:
          model-uri: {candidate}
          model-name: {name}
          data: data/validation.csv
          target: label
          thresholds: |
            accuracy >= 0.90
            f1 >= champion
      - uses: modelship/modelship/actions/register@v1
        id: register
        if: steps.evaluate.outputs.decision != 'reject'
        with:
          model-uri: {candidate}
          model-name: {name}
      - uses: modelship/modelship/actions/promote@v1
        id: promote
        with:
          model-name: {name}
          version: ${{{{ steps.register.outputs.model-version }}}}
      - env:
          DECISION: ${{{{ steps.evaluate.outputs.decision }}}}
          VERSION: ${{{{ steps.promote.outputs.model-version }}}}
          PREVIOUS: ${{{{ steps.promote.outputs.previous-version }}}}
        run: echo "shipped decision=$DECISION version=$VERSION previous=$PREVIOUS"
"""


def _project(tmp_path: Path, models: Models, files: dict[str, str]) -> Path:
    validation = models.validation.to_csv(index=False)
    return init_project(tmp_path / "user-repo", {**files, "data/validation.csv": validation})


def test_evaluate_register_promote_with_act(
    tmp_path: Path,
    modelship_checkout: Path,
    action_venv: Path,
    models: Models,
    mlflow_tracking: MlflowServer,
) -> None:
    name = "e2e-act"
    make_champion(mlflow_tracking.uri, name, models.uris["weak"])
    workflow = GITHUB_WORKFLOW.format(name=name, candidate=models.uris["strong"])
    project = _project(tmp_path, models, {".github/workflows/ship.yml": workflow})
    run = run_act(
        project,
        modelship_checkout,
        event="workflow_dispatch",
        venv=action_venv,
        env={"MLFLOW_TRACKING_URI": mlflow_tracking.uri},
    )
    run.check()
    assert "shipped decision=promote version=2 previous=1" in run.output
    client = open_client(mlflow_tracking.uri, {})
    assert registry.alias_version(client, name, "champion") == "2"
    assert registry.alias_version(client, name, "previous-champion") == "1"


GITLAB_PIPELINE = """\
stages: [evaluate, register, promote, check]
include:
  - local: modelship/evaluate.yml
    inputs:
      stage: evaluate
      install: "{install}[mlflow]"
      model-uri: {candidate}
      model-name: {name}
      data: data/validation.csv
      target: label
      thresholds: "accuracy >= 0.90"
  - local: modelship/register.yml
    inputs:
      stage: register
      install: "{install}[mlflow]"
      model-uri: {candidate}
      model-name: {name}
  - local: modelship/promote.yml
    inputs:
      stage: promote
      install: "{install}[mlflow]"
      model-name: {name}
      model-uri: "models:/{name}@challenger"
modelship-promote:
  resource_group: promote-{name}
check:
  stage: check
  needs: [modelship-evaluate, modelship-register, modelship-promote]
  script:
    - test "$MODELSHIP_EVALUATE_DECISION" = "no-champion"
    - echo "shipped version=$MODELSHIP_PROMOTE_MODEL_VERSION created=$MODELSHIP_REGISTER_CREATED"
"""


def test_evaluate_register_promote_with_gitlab_ci_local(
    tmp_path: Path,
    modelship_checkout: Path,
    gitlab_python: Path,
    models: Models,
    mlflow_tracking: MlflowServer,
) -> None:
    name = "e2e-gitlab"
    pipeline = GITLAB_PIPELINE.format(
        install=modelship_checkout, name=name, candidate=models.uris["strong"]
    )
    files = {
        ".gitlab-ci.yml": pipeline,
        **gitlab_templates(modelship_checkout, "evaluate", "register", "promote"),
    }
    project = _project(tmp_path, models, files)
    run = run_gitlab(
        project,
        python_bin=gitlab_python,
        variables={"MLFLOW_TRACKING_URI": mlflow_tracking.uri},
    ).check()
    assert "shipped version=1 created=true" in run.output
    assert (project / "modelship-reports" / "evaluate.junit.xml").exists()
    client = open_client(mlflow_tracking.uri, {})
    assert registry.alias_version(client, name, "champion") == "1"
