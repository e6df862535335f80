"""The GitLab example pipeline end to end with real gitlab-ci-local.

`.gitlab-ci.yml` with modelship's templates included from a copy in the
repository, on the default branch: the good model is trained, evaluated (no
champion yet), registered, its build context written, deployed to staging and
production with the local target, smoke-tested and promoted.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.harness.runners import run_gitlab

pytestmark = pytest.mark.e2e


def test_default_branch_pipeline_promotes_a_champion_that_answers(
    demo: ModuleType,
    tmp_path: Path,
    modelship_checkout: Path,
    gitlab_python: Path,
) -> None:
    state = demo.Demo(
        tmp_path / "gl-pipeline", "gitlab", quiet=True, modelship_source=modelship_checkout
    )
    demo.prepare(state, checkout=False)
    # The jobs' Python: modelship from this checkout and the project's
    # requirements, so no job reaches for an index.
    bin_dir = demo.gitlab_python(state, venv=gitlab_python.parent, checkout=modelship_checkout)
    # A private HOME keeps ~/.bashrc (pyenv, conda) from putting another Python first.
    variables = demo.gitlab_variables(state)
    run = run_gitlab(state.project, variables=variables, python_bin=bin_dir, timeout=1800)
    run.check()

    outputs = state.project / ".modelship" / "outputs"
    evaluate = json.loads((outputs / "evaluate.json").read_text())
    assert evaluate["decision"] == "no-champion"
    promote = json.loads((outputs / "promote.json").read_text())
    assert promote["model-version"] == "1"

    from mlflow.tracking import MlflowClient

    client = MlflowClient(state.tracking_uri)
    champion = client.get_model_version_by_alias("breast-cancer", "champion")
    assert str(champion.version) == "1"
    assert champion.tags["modelship.ci_platform"] == "gitlab"

    reports = state.project / "modelship-reports"
    answer = json.loads((reports / "smoke-answer.json").read_text())
    assert answer == {"predictions": [0, 0, 1, 1]}
    for report in ("evaluate.md", "evaluate.html", "train.md", "deploy.md", "promote.md"):
        assert (reports / report).is_file(), report
    assert (reports / "image-context" / "Containerfile").is_file()


PIPELINE_INCLUDE = """\
include:
  - local: gitlab-templates/pipeline.yml
    inputs:
      model-name: breast-cancer
      target: target
      image-name: registry.example.com/acme/breast-cancer
      deploy-target: local
"""


def test_pipeline_include_composes_the_whole_pipeline(tmp_path: Path) -> None:
    """`gitlab-templates/pipeline.yml` as one include: every job, in order, with its needs."""
    import shutil
    import subprocess

    from tests.harness.checkout import REPO_ROOT, init_project
    from tests.harness.tools import gitlab_ci_local_binary

    project = init_project(tmp_path / "gl-include", {".gitlab-ci.yml": PIPELINE_INCLUDE})
    shutil.copytree(REPO_ROOT / "gitlab-templates", project / "gitlab-templates")
    done = subprocess.run(
        [gitlab_ci_local_binary(), "--preview"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    import yaml

    text = "\n".join(line for line in done.stdout.splitlines() if not line.startswith(" WARN"))
    jobs: dict[str, Any] = {}
    for document in yaml.safe_load_all(text):
        jobs.update(document or {})
    assert [s for s in jobs["stages"] if not s.startswith(".")] == [
        "prepare",
        "test",
        "train",
        "evaluate",
        "release",
        "staging",
        "production",
    ]
    expected_needs = {
        "modelship-train": ["modelship-context", "modelship-test", "modelship-data"],
        "modelship-evaluate": ["modelship-train", "modelship-data"],
        "modelship-register": ["modelship-train", "modelship-evaluate"],
        "production-deploy": [
            "modelship-train",
            "modelship-register",
            "modelship-build",
            "staging-deploy",
        ],
        "modelship-promote": ["modelship-register", "production-deploy"],
    }
    for job, needs in expected_needs.items():
        assert [n if isinstance(n, str) else n["job"] for n in jobs[job]["needs"]] == needs, job
    assert jobs["production-deploy"]["resource_group"] == "production"
    assert jobs["modelship-promote"]["resource_group"] == "production"
    assert jobs["production-deploy"]["variables"]["INPUT_TARGET"] == "local"
    assert jobs["staging-deploy"]["variables"]["INPUT_IMAGE"] == "$MODELSHIP_BUILD_IMAGE_REF"
    assert (
        jobs["modelship-evaluate"]["variables"]["INPUT_MODEL_URI"] == "$MODELSHIP_TRAIN_MODEL_URI"
    )
    # Release jobs only on the default branch.
    assert "CI_DEFAULT_BRANCH" in jobs["modelship-register"]["rules"][0]["if"]
