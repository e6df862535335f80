"""The GitLab example pipeline under gitlab-ci-local's docker executor.

Every template's job runs on the locally built job image (its `job-image`
input), in a container of its own with the project copied in; outputs reach
later jobs only as dotenv reports through `needs`, files only as artifacts.
The templates install modelship from this checkout (mounted read-only at the
same path, as a package index would serve it) and the project's requirements
with uv and a shared download cache. MLflow is a tracking server on the
loopback (host network). The shell-executor run (`test_gitlab_pipeline.py`)
stays the fast path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.runner_image import Engine
from tests.harness.runners import JobContainers, Run, run_gitlab, use_job_image, uv_cache

pytestmark = pytest.mark.e2e


@dataclass
class ContainerRun:
    demo: Any
    run: Run
    tracking_uri: str


@pytest.fixture(scope="module")
def default_branch_run(
    demo: ModuleType,
    tmp_path_factory: pytest.TempPathFactory,
    modelship_checkout: Path,
    runner_image: str,
    docker_jobs_engine: Engine,
    jobs_mlflow: MlflowServer,
) -> ContainerRun:
    state = demo.Demo(
        tmp_path_factory.mktemp("gl-containers"),
        "gitlab",
        quiet=True,
        modelship_source=modelship_checkout,
    )
    demo.prepare(state, checkout=False)
    use_job_image(state.project / ".gitlab-ci.yml", runner_image)
    git_commit_all(state.project, "Jobs on the local job image")
    containers = JobContainers(
        runner_image,
        docker_jobs_engine.env,
        mounts=(state.remote, modelship_checkout),
        cache=uv_cache(),
    )
    variables = {**demo.settings(state), "MLFLOW_TRACKING_URI": jobs_mlflow.uri}
    run = run_gitlab(state.project, variables=variables, containers=containers, timeout=1800)
    return ContainerRun(state, run, jobs_mlflow.uri)


def test_default_branch_pipeline_in_job_containers_promotes_a_champion(
    default_branch_run: ContainerRun, runner_image: str
) -> None:
    state, run = default_branch_run.demo, default_branch_run.run
    run.check()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", run.output)
    assert f"starting {runner_image}" in plain, "a job ran without the job image"
    assert "starting shell" not in plain

    outputs = state.project / ".modelship" / "outputs"
    assert json.loads((outputs / "evaluate.json").read_text())["decision"] == "no-champion"
    assert json.loads((outputs / "promote.json").read_text())["model-version"] == "1"
    # Production's deploy step smoke-tested the model it started.
    assert json.loads((outputs / "deploy.json").read_text())["status"] == "succeeded"

    from mlflow.tracking import MlflowClient

    client = MlflowClient(default_branch_run.tracking_uri)
    champion = client.get_model_version_by_alias("breast-cancer", "champion")
    assert str(champion.version) == "1"
    assert champion.tags["modelship.ci_platform"] == "gitlab"
    assert (state.project / "modelship-reports" / "image-context" / "Containerfile").is_file()


def test_production_answer_is_recorded_in_job_containers(default_branch_run: ContainerRun) -> None:
    reports = default_branch_run.demo.project / "modelship-reports"
    answer = json.loads((reports / "smoke-answer.json").read_text())
    assert answer == {"predictions": [0, 0, 1, 1]}


def git_commit_all(project: Path, message: str) -> None:
    from tests.harness.checkout import git

    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)
