"""`data` then `train` in users' pipelines: real act and real gitlab-ci-local.

The example project with its data pushed to a local-directory DVC remote; the
data job's `data-version` output reaches the train job (GitHub job outputs,
GitLab dotenv report), and the MLflow run on the real tracking server carries
it with the rest of the lineage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelship.tracking import lineage
from tests.data_train.conftest import Project
from tests.data_train.test_train_stage import get_run, tags_of
from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.checkout import git, gitlab_templates
from tests.harness.runners import run_act, run_gitlab

pytestmark = pytest.mark.e2e

CHECKOUT = "actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0"

WORKFLOW = f"""\
name: train
on: push
permissions: {{}}
jobs:
  data:
    runs-on: ubuntu-latest
    outputs:
      data-version: ${{{{ steps.data.outputs.data-version }}}}
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - uses: modelship/modelship/actions/data@v1
        id: data
  train:
    needs: data
    runs-on: ubuntu-latest
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      # Stands in for `pip install -r requirements.txt`: the project's own Python.
      - run: echo "$PROJECT_PYTHON_BIN" >> "$GITHUB_PATH"
      - uses: modelship/modelship/actions/data@v1
      - uses: modelship/modelship/actions/train@v1
        id: train
        with:
          experiment: example-act
          data-version: ${{{{ needs.data.outputs.data-version }}}}
      - env:
          DATA_VERSION: ${{{{ needs.data.outputs.data-version }}}}
          RUN_ID: ${{{{ steps.train.outputs.run-id }}}}
          MODEL_URI: ${{{{ steps.train.outputs.model-uri }}}}
          METRICS: ${{{{ steps.train.outputs.metrics }}}}
        run: |
          echo "handed-over data=$DATA_VERSION run=$RUN_ID model=$MODEL_URI"
          echo "metrics=$METRICS"
"""


def _handed_over(output: str) -> dict[str, str]:
    """The values the last job printed (not the echo command the log shows first)."""
    match = re.search(r"handed-over data=([0-9a-f]{16}) run=([0-9a-f]{32}) model=(\S+)", output)
    assert match, output[-6000:]
    return {"data": match[1], "run": match[2], "model": match[3]}


def test_data_then_train_with_act(
    project: Project,
    mlflow_tracking: MlflowServer,
    modelship_checkout: Path,
    action_venv: Path,
) -> None:
    workflow = project.root / ".github" / "workflows" / "train.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(WORKFLOW)
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "workflow")
    project.drop_local_data()

    run = run_act(
        project.root,
        modelship_checkout,
        env={"MLFLOW_TRACKING_URI": mlflow_tracking.uri},
        venv=action_venv,
        timeout=1800,
    ).check()
    handed = _handed_over(run.output)
    assert handed["model"].startswith("models:/m-")

    tags = tags_of(get_run(mlflow_tracking, handed["run"]))
    assert tags[lineage.DATA_VERSION] == handed["data"]
    assert tags[lineage.CI_PLATFORM] == "github"
    assert tags[lineage.GIT_SHA] == git(project.root, "rev-parse", "HEAD")
    assert '"accuracy":0.9' in run.output


PIPELINE = """\
stages: [data, train, check]
include:
  - local: modelship/data.yml
    inputs:
      install: "{checkout}[data]"
      stage: data
  - local: modelship/train.yml
    inputs:
      install: "{checkout}[data,mlflow]"
      stage: train
      experiment: example-gitlab
check:
  stage: check
  needs: [modelship-data, modelship-train]
  script:
    - echo "handed-over data=$MODELSHIP_DATA_DATA_VERSION run=$MODELSHIP_TRAIN_RUN_ID
      model=$MODELSHIP_TRAIN_MODEL_URI"
"""


def test_data_then_train_with_gitlab_ci_local(
    project: Project,
    mlflow_tracking: MlflowServer,
    modelship_checkout: Path,
    gitlab_python: Path,
) -> None:
    (project.root / ".gitlab-ci.yml").write_text(PIPELINE.format(checkout=modelship_checkout))
    (project.root / "modelship").mkdir(exist_ok=True)
    for name, text in gitlab_templates(modelship_checkout, "data", "train").items():
        (project.root / name).write_text(text)
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "pipeline")
    project.drop_local_data()

    run = run_gitlab(
        project.root,
        variables={"MLFLOW_TRACKING_URI": mlflow_tracking.uri},
        python_bin=gitlab_python,
        timeout=1800,
    ).check()
    handed = _handed_over(run.output)
    assert handed["model"].startswith("models:/m-")
    tags = tags_of(get_run(mlflow_tracking, handed["run"]))
    # The train job found the data job's output in its dotenv report.
    assert tags[lineage.DATA_VERSION] == handed["data"]
    assert tags[lineage.CI_PLATFORM] == "gitlab"
    outputs = json.loads((project.root / ".modelship" / "outputs" / "train.json").read_text())
    assert outputs["run-id"] == handed["run"]
