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

import pytest

from tests.harness.runners import run_gitlab

pytestmark = pytest.mark.e2e


def test_default_branch_pipeline_promotes_a_champion_that_answers(
    demo: ModuleType,
    tmp_path: Path,
    modelship_checkout: Path,
    gitlab_python: Path,
) -> None:
    state = demo.Demo(tmp_path / "gl-pipeline", "gitlab", quiet=True)
    demo.prepare(state, checkout=False)
    # The jobs' Python: modelship from this checkout and the project's
    # requirements, so no job reaches for an index.
    bin_dir = demo.gitlab_python(state, venv=gitlab_python.parent, checkout=modelship_checkout)
    variables = {
        **demo.settings(state),
        "PIP_NO_INDEX": "1",
        "PIP_REQUIRE_VIRTUALENV": "1",
        "UV_NO_INDEX": "1",
    }
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
    assert champion.version == "1"
    assert champion.tags["modelship.ci_platform"] == "gitlab"

    reports = state.project / "modelship-reports"
    answer = json.loads((reports / "smoke-answer.json").read_text())
    assert answer == {"predictions": [0, 0, 1, 1]}
    for report in ("evaluate.md", "evaluate.html", "train.md", "deploy.md", "promote.md"):
        assert (reports / report).is_file(), report
    assert (reports / "image-context" / "Containerfile").is_file()
