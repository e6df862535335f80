"""Fixtures of the evaluate/register/promote tests.

Small scikit-learn models trained on breast_cancer (bundled with scikit-learn)
and logged once per session to the real MLflow tracking server; each test
gets a workspace holding the validation CSV and runs the CLI in-process.
"""

from __future__ import annotations

import functools
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pytest

from tests.fixtures.mlflow_server import MlflowServer
from tests.harness import cli as harness_cli
from tests.harness.cli import CliRun, host_env
from tests.harness.mlflow_fluent import fluent_mlflow

LINEAGE = {
    "modelship.git_sha": "0123456789abcdef0123456789abcdef01234567",
    "modelship.branch": "main",
    "modelship.ci_run_url": "https://ci.example/run/42",
    "modelship.data_version": "sha256:feedface",
    "modelship.ci_platform": "github",
    "modelship.version": "0.1.0",
}


# Fixed requirements: MLflow's own inference imports and times the model (slow).
REQUIREMENTS = ["mlflow", "scikit-learn", "pandas"]


# Every run reports its outputs as JSON.
run_cli = functools.partial(harness_cli.run_cli, json_outputs=True)


@dataclass(frozen=True)
class Models:
    """runs:/ URIs of the logged models, by name, and the split they were made on."""

    uris: dict[str, str]
    run_ids: dict[str, str]
    validation: Any  # DataFrame with a `label` column


class NaNModel(mlflow.pyfunc.PythonModel):  # module level: pickled by reference
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        import numpy as np

        return np.full(len(model_input), np.nan)


class ShortModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        import numpy as np

        return np.zeros(len(model_input) - 1, dtype=np.int64)


@pytest.fixture(scope="session")
def models(mlflow_tracking: MlflowServer) -> Models:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    features, labels = load_breast_cancer(return_X_y=True, as_frame=True)
    x_train, x_val, y_train, y_val = train_test_split(
        features, labels, test_size=0.5, random_state=0, stratify=labels
    )
    estimators: dict[str, Any] = {
        # accuracy on the validation half: strong 0.979, near-tie 0.975, weak 0.902
        "strong": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)),
        "near": make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000)),
        "weak": DecisionTreeClassifier(max_depth=1, random_state=0),
    }
    uris: dict[str, str] = {}
    run_ids: dict[str, str] = {}
    signature = None
    with fluent_mlflow(mlflow_tracking.uri, "evaluate-tests"):
        for name, estimator in estimators.items():
            estimator.fit(x_train, y_train)
            signature = infer_signature(x_val, estimator.predict(x_val))
            with mlflow.start_run(run_name=name) as run:
                mlflow.set_tags(LINEAGE)
                mlflow.sklearn.log_model(
                    estimator,
                    name="model",
                    signature=signature,
                    pip_requirements=REQUIREMENTS,
                    skops_trusted_types=["sklearn.tree._tree.Tree"],
                )
            uris[name] = f"runs:/{run.info.run_id}/model"
            run_ids[name] = run.info.run_id
        for name, python_model in (("nan", NaNModel()), ("short", ShortModel())):
            with mlflow.start_run(run_name=name) as run:
                mlflow.pyfunc.log_model(
                    name="model", python_model=python_model, pip_requirements=REQUIREMENTS
                )
            uris[name] = f"runs:/{run.info.run_id}/model"
            run_ids[name] = run.info.run_id
        regression = LinearRegression().fit(x_train, y_train.astype(float))
        with mlflow.start_run(run_name="linear") as run:
            mlflow.sklearn.log_model(regression, name="model", pip_requirements=REQUIREMENTS)
        uris["linear"] = f"runs:/{run.info.run_id}/model"
        run_ids["linear"] = run.info.run_id
    validation = x_val.copy()
    validation["label"] = y_val.to_numpy()
    return Models(uris, run_ids, validation)


@pytest.fixture
def workspace(tmp_path: Path, models: Models) -> Path:
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    models.validation.to_csv(root / "data" / "validation.csv", index=False)
    return root


@pytest.fixture
def model_name() -> str:
    return f"bc-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def env(mlflow_tracking: MlflowServer) -> dict[str, str]:
    return host_env(MLFLOW_TRACKING_URI=mlflow_tracking.uri)


def make_champion(tracking_uri: str, name: str, model_uri: str) -> str:
    """Register `model_uri` under `name` and point `champion` at it; returns the version."""
    from modelship.tracking import registry
    from modelship.tracking.client import open_client

    client = open_client(tracking_uri, {})
    done = registry.register(client, model_uri, name, alias="champion")
    return done.version


@dataclass
class Case:
    """One test's world: a workspace with the validation CSV, the env, the models."""

    workspace: Path
    env: dict[str, str]
    models: Models
    name: str
    tracking_uri: str

    def champion(self, model: str) -> str:
        """Register a logged model under this case's name as the champion; its version."""
        return make_champion(self.tracking_uri, self.name, self.models.uris[model])

    def evaluate(self, model: str, *extra: str) -> CliRun:
        return run_cli(
            [
                "evaluate",
                "--model-uri",
                self.models.uris[model],
                "--model-name",
                self.name,
                "--data",
                "data/validation.csv",
                "--target",
                "label",
                *extra,
            ],
            self.workspace,
            self.env,
        )

    def junit(self) -> Any:
        """The evaluate JUnit report's test suite element."""
        text = (self.workspace / "modelship-reports" / "evaluate.junit.xml").read_text()
        return ET.fromstring(text)[0]  # noqa: S314 - our own file


@pytest.fixture
def case(
    workspace: Path,
    env: dict[str, str],
    models: Models,
    model_name: str,
    mlflow_tracking: MlflowServer,
) -> Case:
    return Case(workspace, env, models, model_name, mlflow_tracking.uri)
