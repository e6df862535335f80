"""The retraining loop in a user's workflow with real `act` and real `gitlab-ci-local`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.checkout import gitlab_templates, init_project
from tests.harness.runners import run_act, run_gitlab

pytestmark = pytest.mark.e2e


def _csv(shift: float) -> str:
    import numpy as np

    rng = np.random.default_rng(int(shift * 10) + 1)
    rows = ["age,plan"]
    plans = ["free", "pro", "team"]
    for _ in range(300):
        rows.append(f"{rng.normal(40 + shift * 10, 8):.2f},{plans[int(rng.integers(0, 3))]}")
    return "\n".join(rows) + "\n"


GITHUB_WORKFLOW = """\
name: monitor
on: workflow_dispatch
permissions: {}
jobs:
  monitor:
    runs-on: ubuntu-latest
    outputs:
      retrain: ${{ steps.drift.outputs.retrain }}
      drifted: ${{ steps.drift.outputs.drifted-features }}
    steps:
      - uses: actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0
        with:
          persist-credentials: false
      - uses: modelship/modelship/actions/monitor@v1
        id: drift
        with:
          reference: data/reference.csv
          current: data/current.csv
          model-name: churn
          metrics-file: metrics/drift.prom
  retrain:
    needs: monitor
    if: needs.monitor.outputs.retrain == 'true'
    runs-on: ubuntu-latest
    steps:
      - env:
          DRIFTED: ${{ needs.monitor.outputs.drifted }}
        run: echo "retrain-dispatched drifted=$DRIFTED"
"""


def test_drift_starts_retraining_with_act(
    tmp_path: Path, modelship_checkout: Path, action_venv: Path
) -> None:
    project = init_project(
        tmp_path / "user-repo",
        {
            ".github/workflows/monitor.yml": GITHUB_WORKFLOW,
            "data/reference.csv": _csv(0.0),
            "data/current.csv": _csv(1.0),
        },
    )
    run = run_act(project, modelship_checkout, event="workflow_dispatch", venv=action_venv)
    run.check()
    assert 'retrain-dispatched drifted=["age"]' in run.output


GITLAB_PIPELINE = """\
stages: [monitor, retrain]
include:
  - local: modelship/monitor.yml
    inputs:
      stage: monitor
      install: "{install}[monitor]"
      reference: data/reference.csv
      current: data/current.csv
      drift-share: 0.5
retrain:
  stage: retrain
  needs: [modelship-monitor]
  script:
    - test "$MODELSHIP_MONITOR_RETRAIN" = "true"
    - echo "retrain-triggered $MODELSHIP_MONITOR_DRIFTED_FEATURES"
"""


def test_drift_starts_retraining_with_gitlab_ci_local(
    tmp_path: Path, modelship_checkout: Path, gitlab_python: Path
) -> None:
    project = init_project(
        tmp_path / "gl-repo",
        {
            ".gitlab-ci.yml": GITLAB_PIPELINE.format(install=modelship_checkout),
            **gitlab_templates(modelship_checkout, "monitor"),
            "data/reference.csv": _csv(0.0),
            "data/current.csv": _csv(1.0),
        },
    )
    run = run_gitlab(project, python_bin=gitlab_python).check()
    assert 'retrain-triggered ["age"]' in run.output
    assert (project / "modelship-reports" / "monitor-drift.html").exists()
