"""context -> build in a user's workflow, with real `act` and real `gitlab-ci-local`.

Both build with Buildah from the test suite's base image, in the cached
store, so the image layers come from cache and the runs take seconds once
the actions' environment is installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.build.conftest import BuildahEnv, LoggedModel
from tests.harness.checkout import gitlab_templates, init_project
from tests.harness.runners import run_act, run_gitlab

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

GITHUB_WORKFLOW = """\
name: image
on: push
permissions: {{}}
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3 # v6.0.0
        with:
          persist-credentials: false
      - uses: modelship/modelship/actions/context@v1
        id: context
      - uses: modelship/modelship/actions/build@v1
        id: build
        with:
          model-uri: {model_uri}
          image: localhost/modelship-e2e/churn
          tags: ${{{{ steps.context.outputs.image-tag }}}}
          builder: buildah
          base-image: {base_image}
      - env:
          IMAGE_REF: ${{{{ steps.build.outputs.image-ref }}}}
          TAGS: ${{{{ steps.build.outputs.tags }}}}
        run: echo "built image-ref=$IMAGE_REF tags=$TAGS"
"""


def test_context_then_build_with_act(
    tmp_path: Path,
    modelship_checkout: Path,
    action_venv: Path,
    logged_model: LoggedModel,
    buildah_env: BuildahEnv,
) -> None:
    workflow = GITHUB_WORKFLOW.format(
        model_uri=logged_model.registered_uri, base_image=buildah_env.base_image
    )
    project = init_project(tmp_path / "user-repo", {".github/workflows/image.yml": workflow})
    run = run_act(
        project,
        modelship_checkout,
        venv=action_venv,
        env={"MLFLOW_TRACKING_URI": logged_model.tracking_uri, **buildah_env.env},
    ).check()
    # The step's output, not the script that act echoes before and after it.
    line = next(x for x in run.output.splitlines() if "built image-ref=localhost/" in x)
    image_ref = line.split("built image-ref=", 1)[1].split()[0]
    tags = json.loads(line.split("tags=", 1)[1].strip())
    assert tags == ["localhost/modelship-e2e/churn:0.0.0-dev.1-g" + tags[0].rsplit("-g", 1)[1]]
    # Not pushed: the reference to deploy is the local tag the builder's store has.
    assert image_ref == tags[0]
    labels = json.loads(buildah_env.store.buildah("inspect", "--type", "image", tags[0]))
    config = labels["Docker"]["config"]["Labels"]
    assert config["io.modelship.model-version"] == logged_model.version


GITLAB_PIPELINE = """\
stages: [context, build, check]
include:
  - local: modelship/context.yml
    inputs:
      stage: context
      install: "{install}"
  - local: modelship/build.yml
    inputs:
      stage: build
      install: "{install}[mlflow,image]"
      model-uri: {model_uri}
      image: localhost/modelship-e2e/churn-gitlab
      builder: buildah
      base-image: {base_image}
check:
  stage: check
  needs: [modelship-context, modelship-build]
  script:
    - echo "built image-ref=$MODELSHIP_BUILD_IMAGE_REF tags=$MODELSHIP_BUILD_TAGS"
"""


def test_context_then_build_with_gitlab_ci_local(
    tmp_path: Path,
    modelship_checkout: Path,
    gitlab_python: Path,
    logged_model: LoggedModel,
    buildah_env: BuildahEnv,
) -> None:
    files = {
        ".gitlab-ci.yml": GITLAB_PIPELINE.format(
            install=modelship_checkout,
            model_uri=logged_model.registered_uri,
            base_image=buildah_env.base_image,
        ),
        **gitlab_templates(modelship_checkout, "context", "build"),
    }
    project = init_project(tmp_path / "user-repo", files)
    run = run_gitlab(
        project,
        python_bin=gitlab_python,
        variables={"MLFLOW_TRACKING_URI": logged_model.tracking_uri, **buildah_env.env},
    ).check()
    line = next(x for x in run.output.splitlines() if "built image-ref=localhost/" in x)
    assert "built image-ref=localhost/modelship-e2e/churn-gitlab:0.0.0-dev.1-g" in line
    # No tags given: the build job took them from the context job's dotenv report.
    assert "churn-gitlab:0.0.0-dev.1-g" in line
    assert f"churn-gitlab:model-{logged_model.version}" in line
