"""The GitHub example pipeline under act with each job in its own container.

The jobs run on the locally built job image (`workflows-examples/runner-image`),
each from a clean filesystem: modelship is installed by the actions in every
job, the project's requirements by the workflow, and a job knows what earlier
jobs did only through `needs.<job>.outputs`. MLflow is a tracking server on
the loopback (the jobs use the host network); the DVC remote and the reports
folder are host folders mounted at the same path, as shared storage would be.
The host-mode run (`test_github_pipeline.py`) stays the fast path.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.checkout import git
from tests.harness.runner_image import Engine
from tests.harness.runners import JobContainers, run_act, uv_cache

pytestmark = pytest.mark.e2e


def test_first_push_in_job_containers_promotes_a_champion_that_answers(
    demo: ModuleType,
    tmp_path: Path,
    modelship_checkout: Path,
    runner_image: str,
    docker_jobs_engine: Engine,
    jobs_mlflow: MlflowServer,
) -> None:
    state = demo.Demo(tmp_path / "gh-containers", "github", quiet=True)
    demo.prepare(state, checkout=False)
    containers = JobContainers(
        runner_image,
        docker_jobs_engine.env,
        mounts=(state.remote, state.reports),
        cache=uv_cache(),
        # $RUNNER_TEMP (/tmp under act): modelship's and the project's environments.
        scratch=("/tmp/modelship", "/tmp/project"),
    )
    variables = {**demo.settings(state), "MLFLOW_TRACKING_URI": jobs_mlflow.uri}
    run = run_act(
        state.project,
        modelship_checkout,
        workflow=".github/workflows/ml-pipeline.yml",
        variables=variables,
        containers=containers,
        timeout=1800,
    ).check()

    # Every job ran in a container of the job image, none on the host.
    assert f"image={runner_image}" in run.output
    assert "-self-hosted" not in run.output

    from mlflow.tracking import MlflowClient

    client = MlflowClient(jobs_mlflow.uri)
    champion = client.get_model_version_by_alias("breast-cancer", "champion")
    assert str(champion.version) == "1"
    head = git(state.project, "rev-parse", "HEAD").strip()
    assert champion.tags["modelship.git_sha"] == head
    train = json.loads((state.reports / "train" / "train.json").read_text())
    assert train["run-id"] == champion.run_id
    assert client.get_run(champion.run_id).data.tags["modelship.data_version"]

    for job in ("staging", "production"):
        deploy = json.loads((state.reports / job / "deploy.json").read_text())
        assert deploy["status"] == "succeeded", job
    answer = json.loads((state.reports / "production" / "smoke-answer.json").read_text())
    assert answer == {"predictions": [0, 0, 1, 1]}
    containerfile = (state.reports / "build" / "image-context" / "Containerfile").read_text()
    assert f'"io.modelship.git-sha"="{head}"' in containerfile
