"""`modelship init` on the example project, and the workflow it writes run with real act.

The demo's own preparation makes the project (a git repository whose data is
on a DVC remote, an MLflow store outside it); `modelship init --force` then
replaces the hand-written example workflow with the generated one, and act
runs it as a push to main on the self-hosted platform.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import ModuleType

import pytest

from modelship.cli import main
from tests.harness.checkout import git
from tests.harness.demo import load_demo
from tests.harness.runners import run_act

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    return load_demo()


def test_generated_workflow_runs_green_under_act_and_promotes_a_champion(
    demo: ModuleType,
    tmp_path: Path,
    modelship_checkout: Path,
    action_venv: Path,
) -> None:
    state = demo.Demo(tmp_path / "demo", "github", quiet=True)
    demo.prepare(state, checkout=False)
    project = state.project
    out = io.StringIO()
    code = main(["init", "--force", "--model-name", demo.MODEL_NAME], {}, project, out)
    assert code == 0, out.getvalue()
    assert "label column target (named in data/validation.csv)" in out.getvalue()
    generated = project / ".github" / "workflows" / "ml-pipeline.yml"
    assert "written by `modelship init`" in generated.read_text(encoding="utf-8")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Pipeline from modelship init")

    run = run_act(
        project,
        modelship_checkout,
        event="push",
        workflow=".github/workflows/ml-pipeline.yml",
        variables=demo.settings(state),
        venv=action_venv,
        timeout=1800,
    ).check()

    evaluate = json.loads((state.reports / "evaluate" / "evaluate.json").read_text())
    assert (evaluate["decision"], evaluate["passed"]) == ("no-champion", "true")
    for job in ("staging", "production"):
        deploy = json.loads((state.reports / job / "deploy.json").read_text())
        assert deploy["status"] == "succeeded", job
    promote = json.loads((state.reports / "promote" / "promote.json").read_text())
    assert promote["model-version"] == "1"
    answer = json.loads((state.reports / "production" / "smoke-answer.json").read_text())
    assert answer == {"predictions": [0, 0, 1, 1]}
    assert "model answered:" in run.output
