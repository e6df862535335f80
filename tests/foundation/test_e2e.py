"""The context and test actions in users' own workflows: real act, real gitlab-ci-local."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.checkout import gitlab_templates, init_project
from tests.harness.runners import run_act, run_gitlab

pytestmark = pytest.mark.e2e

HOSTILE = 'a"; touch $TMPDIR/pwned; echo "'

GITHUB_WORKFLOW = """\
name: ci
on: push
permissions: {}
jobs:
  context:
    runs-on: ubuntu-latest
    outputs:
      environment: ${{ steps.ctx.outputs.environment }}
      version: ${{ steps.ctx.outputs.version }}
      image: ${{ steps.ctx.outputs.image }}
      should-deploy: ${{ steps.ctx.outputs.should-deploy }}
    steps:
      - uses: actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0
        with:
          persist-credentials: false
      - uses: modelship/modelship/actions/context@v1
        id: ctx
        with:
          image-name: ghcr.io/acme/churn
  tests:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0
        with:
          persist-credentials: false
      # The project's Python with pytest, first on PATH as actions/setup-python puts it.
      - run: echo "$PROJECT_PYTHON_BIN" >> "$GITHUB_PATH"
      - uses: modelship/modelship/actions/test@v1
        id: tests
        with:
          command: python3 -m pytest -q -p no:cacheprovider tests
      - name: counts
        env:
          TESTS: ${{ steps.tests.outputs.tests }}
          PASSED: ${{ steps.tests.outputs.passed }}
        run: echo "handed-over tests=$TESTS passed=$PASSED"
  cli:
    runs-on: ubuntu-latest
    steps:
      - uses: modelship/modelship@v1
        id: setup
      - name: the root action puts modelship on PATH
        env:
          VERSION: ${{ steps.setup.outputs.version }}
        run: |
          echo "root-action version=$VERSION"
          modelship --version
  deploy:
    runs-on: ubuntu-latest
    needs: [context, tests, cli]
    steps:
      - name: read the hand-over
        env:
          ENVIRONMENT: ${{ needs.context.outputs.environment }}
          VERSION: ${{ needs.context.outputs.version }}
          IMAGE: ${{ needs.context.outputs.image }}
          SHOULD_DEPLOY: ${{ needs.context.outputs.should-deploy }}
        run: echo "handed-over environment=$ENVIRONMENT should-deploy=$SHOULD_DEPLOY image=$IMAGE"
"""

HOSTILE_WORKFLOW = """\
name: hostile
on: push
permissions: {}
jobs:
  hostile:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0
        with:
          persist-credentials: false
      - uses: modelship/modelship/actions/test@v1
        continue-on-error: true
        with:
          command: ${{ env.HOSTILE }}
      - uses: modelship/modelship/actions/context@v1
        id: ctx
        with:
          branch-environments: "main=production\\nx=y"
      - env:
          ENVIRONMENT: ${{ steps.ctx.outputs.environment }}
        run: echo "hostile-done environment=$ENVIRONMENT"
"""

PROJECT_TESTS = "def test_model_shape():\n    assert len([1, 2, 3]) == 3\n"


@pytest.fixture
def github_project(tmp_path: Path) -> Path:
    return init_project(
        tmp_path / "user-repo",
        {
            ".github/workflows/ci.yml": GITHUB_WORKFLOW,
            "tests/test_model.py": PROJECT_TESTS,
        },
    )


def test_outputs_hand_over_between_jobs_with_act(
    github_project: Path, modelship_checkout: Path, action_venv: Path
) -> None:
    run = run_act(github_project, modelship_checkout, venv=action_venv).check()
    assert "handed-over environment=production should-deploy=true" in run.output
    assert "image=ghcr.io/acme/churn:0.0.0-dev.1-g" in run.output
    assert "handed-over tests=1 passed=true" in run.output
    from modelship import __version__

    assert f"root-action version={__version__}" in run.output


def test_hostile_inputs_do_nothing_but_fail_cleanly_with_act(
    tmp_path: Path, modelship_checkout: Path, action_venv: Path
) -> None:
    project = init_project(tmp_path / "hostile", {".github/workflows/h.yml": HOSTILE_WORKFLOW})
    marker_dir = tmp_path / "tmpdir"
    marker_dir.mkdir()
    run = run_act(
        project,
        modelship_checkout,
        env={"HOSTILE": HOSTILE, "TMPDIR": str(marker_dir)},
        venv=action_venv,
    )
    assert not (marker_dir / "pwned").exists()
    assert 'command not found: a"' in run.output or "command not found: a" in run.output
    # The newline cannot smuggle a second rule or a second output.
    assert "hostile-done environment=production" in run.output


GITLAB_PIPELINE = """\
stages: [prepare, test, check]
include:
  - local: modelship/context.yml
    inputs:
      stage: prepare
      install: {install}
      image-name: registry.example.com/acme/churn
  - local: modelship/test.yml
    inputs:
      stage: test
      job-prefix: ml
      install: {install}
      command: python3 -m pytest -q -p no:cacheprovider tests
check:
  stage: check
  needs: [modelship-context, ml-test]
  script:
    - echo "handed-over environment=$MODELSHIP_CONTEXT_ENVIRONMENT image=$MODELSHIP_CONTEXT_IMAGE"
    - echo "handed-over tests=$MODELSHIP_TEST_TESTS passed=$MODELSHIP_TEST_PASSED"
"""


def test_outputs_hand_over_between_jobs_with_gitlab_ci_local(
    tmp_path: Path, modelship_checkout: Path, gitlab_python_pip: Path
) -> None:
    gitlab_python = gitlab_python_pip
    project = init_project(
        tmp_path / "gl-repo",
        {
            ".gitlab-ci.yml": GITLAB_PIPELINE.format(install=modelship_checkout),
            **gitlab_templates(modelship_checkout, "context", "test"),
            "tests/test_model.py": PROJECT_TESTS,
        },
    )
    # pytest for the user's own tests, in the job's Python.
    import subprocess

    subprocess.run([str(gitlab_python / "pip"), "install", "-q", "pytest"], check=True)
    run = run_gitlab(project, python_bin=gitlab_python).check()
    assert (
        "handed-over environment=production image=registry.example.com/acme/churn:0.0.0-dev.1-g"
        in run.output
    )
    assert "handed-over tests=1 passed=true" in run.output
    junit = project / "reports" / "junit.xml"
    assert junit.exists()
