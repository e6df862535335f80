"""Fixtures of the build area: a logged model, a Buildah store with a base image."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.build.baseimage import (
    BuildahStore,
    ensure_base_image,
    ensure_image_without_python,
)
from tests.build.private_index import PACKAGE, VERSION
from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.cli import run_cli
from tests.harness.mlflow_fluent import fluent_mlflow

GIT_SHA = "3f2a9c1d4e5b6a7980c1d2e3f4a5b6c7d8e9f0a1"
DATA_VERSION = "dv-8c1e0f7a"
MODEL_NAME = "churn-build-test"


@dataclass(frozen=True)
class LoggedModel:
    tracking_uri: str
    run_id: str
    run_uri: str
    registered_uri: str
    name: str
    version: str


@pytest.fixture(scope="session")
def logged_model(mlflow_tracking: MlflowServer) -> LoggedModel:
    """A small scikit-learn model in the tracking server, with lineage tags, registered."""
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from modelship.tracking import lineage

    with fluent_mlflow(mlflow_tracking.uri, "build-tests"):
        features = pd.DataFrame({"tenure": [1.0, 2.0, 30.0, 40.0], "calls": [9.0, 8.0, 1.0, 0.0]})
        labels = [1, 1, 0, 0]
        with mlflow.start_run() as run:
            mlflow.set_tags(
                {
                    lineage.GIT_SHA: GIT_SHA,
                    lineage.BRANCH: "main",
                    lineage.DATA_VERSION: DATA_VERSION,
                    lineage.CI_RUN_URL: "https://ci.example.com/runs/42",
                }
            )
            model = LogisticRegression().fit(features, labels)
            mlflow.sklearn.log_model(model, name="model", input_example=features.head(2))
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL_NAME)
    client = MlflowClient(mlflow_tracking.uri)
    client.set_registered_model_alias(MODEL_NAME, "champion", version.version)
    return LoggedModel(
        tracking_uri=mlflow_tracking.uri,
        run_id=run.info.run_id,
        run_uri=f"runs:/{run.info.run_id}/model",
        registered_uri=f"models:/{MODEL_NAME}/{version.version}",
        name=MODEL_NAME,
        version=str(version.version),
    )


@dataclass
class StageRun:
    code: int
    stdout: str
    stderr: str
    workspace: Path

    @property
    def outputs(self) -> dict[str, str]:
        loaded: dict[str, str] = json.loads(self.stdout.strip().splitlines()[-1])
        return loaded

    def everything(self) -> str:
        """All text a user could see: streams, output files, reports."""
        texts = [self.stdout, self.stderr]
        for folder in (".modelship", "modelship-reports"):
            for path in (self.workspace / folder).rglob("*"):
                if path.is_file():
                    texts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(texts)


@pytest.fixture
def run_build(tmp_path: Path) -> Iterator[object]:
    """Run `modelship build` as a user would (through the CLI's main), in a workspace."""

    workspace = tmp_path / "ws"
    workspace.mkdir()

    def run(args: list[str], env: dict[str, str]) -> StageRun:
        full_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env}
        done = run_cli(["build", *args], workspace, full_env, json_outputs=True)
        return StageRun(done.code, done.stdout, done.stderr, workspace)

    return run


@dataclass(frozen=True)
class BuildahEnv:
    store: BuildahStore
    base_image: str
    image_without_python: str

    @property
    def env(self) -> dict[str, str]:
        # No Docker engine: `auto` must fall through to buildah.
        return {**self.store.env, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}


@pytest.fixture(scope="session")
def buildah_env() -> BuildahEnv:
    """A Buildah store in the test cache with the debootstrapped Python base image.

    Cold (no cache): debootstrap, about 2-3 minutes. Warm: instant.
    """
    if shutil.which("buildah") is None or shutil.which("debootstrap") is None:
        pytest.skip("needs buildah and debootstrap (apt-get install buildah debootstrap)")
    store = BuildahStore.default()
    started = time.monotonic()
    base, took = ensure_base_image(store)
    without = ensure_image_without_python(store, base)
    how = "made" if took else "cached"
    print(f"\nbase image {base}: {how} in {time.monotonic() - started:.1f}s")
    return BuildahEnv(store, base, without)


@pytest.fixture(scope="session")
def private_model(mlflow_tracking: MlflowServer) -> str:
    """A model whose requirements name a package only the private test index has."""
    import mlflow
    import mlflow.pyfunc

    class Constant(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        """Needs only MLflow and the private package; never loaded here."""

        def predict(self, context: Any, model_input: list[Any]) -> list[int]:
            return [0 for _ in model_input]

    with fluent_mlflow(mlflow_tracking.uri, "build-secrets"), mlflow.start_run() as run:
        mlflow.pyfunc.log_model(
            name="model",
            python_model=Constant(),
            pip_requirements=[f"mlflow-skinny=={mlflow.__version__}", f"{PACKAGE}=={VERSION}"],
        )
    return f"runs:/{run.info.run_id}/model"
