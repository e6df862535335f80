"""Stages run in-process leave the process as they found it.

A stage called from a test, a notebook or another tool must not redirect what
the rest of the process talks to: MLflow's fluent tracking URI and the
environment stay as they were, and every stage talks only to the server it is given.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

# scikit-learn sets its OpenMP variables in os.environ when first imported (evaluate
# loads a scikit-learn model); a process that uses it has them already.
import sklearn  # noqa: F401

from modelship.tracking.client import open_client
from tests.data_train.conftest import run_cli
from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.checkout import git
from tests.harness.cli import host_env
from tests.harness.mlflow_fluent import fluent_mlflow

pytestmark = pytest.mark.services

TRAIN = """\
import csv, mlflow, mlflow.sklearn
from sklearn.linear_model import LogisticRegression
rows = [(x / 10, int(x > 10)) for x in range(20)]
with open("validation.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["x", "label"])
    writer.writerows(rows)
model = LogisticRegression().fit([[x] for x, _ in rows], [y for _, y in rows])
with mlflow.start_run():
    mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
"""


def environment() -> dict[str, str]:
    """os.environ, less the session id MLflow's telemetry thread sets and clears on its own
    schedule (it clears it when it cannot fetch its configuration, at any moment)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("_MLFLOW_TELEMETRY")}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "train.py").write_text(TRAIN)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def test_train_evaluate_register_leave_environment_and_mlflow_uri_unchanged(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    elsewhere = f"sqlite:///{workspace / 'elsewhere.db'}"
    env = host_env(MLFLOW_TRACKING_URI=mlflow_tracking.uri)
    name = f"process-state-{os.getpid()}"
    with fluent_mlflow(elsewhere):
        before = environment()
        trained = run_cli(["train", "--command", "python train.py"], workspace, env)
        assert trained.code == 0, trained.stderr
        model_uri = trained.outputs["model-uri"]
        evaluated = run_cli(
            [
                "evaluate",
                *("--model-uri", model_uri, "--model-name", name),
                *("--data", "validation.csv", "--target", "label"),
                *("--thresholds", "accuracy >= 0.5"),
            ],
            workspace,
            env,
        )
        assert evaluated.code == 0, evaluated.stderr
        registered = run_cli(
            ["register", "--model-uri", model_uri, "--model-name", name], workspace, env
        )
        assert registered.code == 0, registered.stderr

        assert mlflow.get_tracking_uri() == elsewhere
        assert environment() == before
    assert not (workspace / "elsewhere.db").exists()
    version = registered.outputs["model-version"]
    client = open_client(mlflow_tracking.uri, {})
    assert client.get_model_version_by_alias(name, "challenger").version == version
