"""MLflow 3: a training script that calls `mlflow.<flavor>.log_model(...)` without
`mlflow.start_run()` creates a LoggedModel with no source run, although
`MLFLOW_RUN_ID` names the run `train` opened. `train` finds such a model,
adopts it and says how to log it inside the run."""

from __future__ import annotations

import subprocess
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from modelship.tracking import lineage
from modelship.tracking.logged_models import CLOCK_SLACK_MS
from tests.data_train.conftest import run_cli
from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.checkout import git
from tests.harness.cli import CliRun, host_env

# Exactly what such a script does: no mlflow.start_run() anywhere.
LOG_OUTSIDE_THE_RUN = """\
import sys
import mlflow.sklearn
from sklearn.linear_model import LogisticRegression

model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
for name in sys.argv[1:] or ["model"]:
    info = mlflow.sklearn.log_model(model, name=name, pip_requirements=["scikit-learn"])
    print("logged", info.model_id, "source run:", repr(info.run_id), flush=True)
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "train.py").write_text(textwrap.dedent(LOG_OUTSIDE_THE_RUN))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


@pytest.fixture
def experiment() -> str:
    return f"logged-models-{uuid.uuid4().hex[:8]}"


def train(server: MlflowServer, workspace: Path, experiment: str, command: str) -> CliRun:
    args = ["train", "--tracking-uri", server.uri, "--experiment", experiment]
    return run_cli([*args, "--command", command], workspace)


def client(server: MlflowServer) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(server.uri)


def test_model_logged_outside_the_run_is_adopted_with_lineage_and_a_warning(
    mlflow_tracking: MlflowServer, workspace: Path, experiment: str
) -> None:
    done = train(mlflow_tracking, workspace, experiment, "python train.py")

    assert done.code == 0, done.stderr
    assert "source run: None" in done.stderr or "source run: ''" in done.stderr
    model_uri = done.outputs["model-uri"]
    assert model_uri.startswith("models:/m-")
    model_id = model_uri.removeprefix("models:/")
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1, done.stderr
    assert model_uri in warnings[0]
    assert "logged outside MLflow run" in warnings[0]
    assert "mlflow.start_run()" in warnings[0]

    run_id = done.outputs["run-id"]
    mlflow = client(mlflow_tracking)
    outputs = mlflow.get_run(run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [model_id]
    tags = mlflow.get_logged_model(model_id).tags
    assert tags[lineage.RUN_ID] == run_id
    assert tags[lineage.GIT_SHA] == git(workspace, "rev-parse", "HEAD")
    assert tags[lineage.BRANCH] == "main"
    assert mlflow.get_run(run_id).info.status == "FINISHED"


def test_adopted_model_registers_with_the_lineage_of_its_run(
    mlflow_tracking: MlflowServer, workspace: Path, experiment: str
) -> None:
    trained = train(mlflow_tracking, workspace, experiment, "python train.py")
    assert trained.code == 0, trained.stderr
    name = f"adopted-{uuid.uuid4().hex[:8]}"
    env = host_env(MLFLOW_TRACKING_URI=mlflow_tracking.uri)
    done = run_cli(
        ["register", "--model-uri", trained.outputs["model-uri"], "--model-name", name],
        workspace,
        env,
    )
    assert done.code == 0, done.stderr
    version = client(mlflow_tracking).get_model_version(name, done.outputs["model-version"])
    assert version.tags[lineage.RUN_ID] == trained.outputs["run-id"]
    assert version.tags[lineage.GIT_SHA] == git(workspace, "rev-parse", "HEAD")


def test_several_models_logged_outside_the_run_fail_listing_them(
    mlflow_tracking: MlflowServer, workspace: Path, experiment: str
) -> None:
    done = train(mlflow_tracking, workspace, experiment, "python train.py first second")

    assert done.code == 1
    assert done.outputs["model-uri"] == ""
    logged = [line.split()[1] for line in done.stderr.splitlines() if "logged m-" in line]
    assert len(logged) == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1
    assert "2 models outside MLflow run" in errors[0]
    for model_id in logged:
        assert f"models:/{model_id}" in errors[0]
    mlflow = client(mlflow_tracking)
    assert mlflow.get_run(done.outputs["run-id"]).outputs.model_outputs == []


def test_model_logged_before_the_training_started_is_not_adopted(
    mlflow_tracking: MlflowServer, workspace: Path, experiment: str
) -> None:
    env = host_env(MLFLOW_TRACKING_URI=mlflow_tracking.uri, MLFLOW_EXPERIMENT_NAME=experiment)
    earlier = subprocess.run(
        ["python", "train.py", "earlier"], cwd=workspace, env=env, capture_output=True, text=True
    )
    assert earlier.returncode == 0, earlier.stderr
    # Beyond the allowance for the runner's and the server's clocks.
    time.sleep(CLOCK_SLACK_MS / 1000 + 0.5)
    (workspace / "noop.py").write_text("print('trained nothing')\n")

    done = train(mlflow_tracking, workspace, experiment, "python noop.py")

    assert done.code == 1
    assert "logged no model" in done.stderr
    assert done.outputs["model-uri"] == ""
