"""train, evaluate, register and promote against an MLflow server with authentication on.

The credentials reach each stage as users give them: `MLFLOW_TRACKING_USERNAME`
and `MLFLOW_TRACKING_PASSWORD` in the stage's environment (passed explicitly,
never through this process's `os.environ`). With a wrong password each stage
stops with exit 3 and one line that says the server refused the credentials,
without ever showing the password.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.evaluate.conftest import run_cli
from tests.fixtures.mlflow_server import AuthServer, Credentials
from tests.harness.cli import CliRun, host_env

TRAIN = """\
import mlflow, mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

x, y = load_breast_cancer(return_X_y=True, as_frame=True)
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.5, random_state=0, stratify=y)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)
validation = x_val.copy()
validation["label"] = y_val.to_numpy()
validation.to_csv("data/validation.csv", index=False)
with mlflow.start_run():  # joins the run modelship opened (MLFLOW_RUN_ID)
    mlflow.log_metric("train_accuracy", model.score(x_train, y_train))
    mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(x_val, model.predict(x_val)),
        pip_requirements=["mlflow", "scikit-learn", "pandas"],
    )
"""


@dataclass(frozen=True)
class Trained:
    workspace: Path
    model_uri: str
    name: str


def stage_env(server: AuthServer, who: Credentials) -> dict[str, str]:
    return host_env(
        MLFLOW_TRACKING_URI=server.uri,
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        **who.env(),
    )


def wrong(server: AuthServer) -> Credentials:
    return Credentials(server.user.username, "not-the-password-" + server.user.password[-6:])


def init_project(root: Path) -> None:
    git = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "project"], cwd=root, check=True)


@pytest.fixture(scope="module")
def trained(mlflow_auth_server: AuthServer, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The user's project trained once through `modelship train` on the auth server."""
    root = tmp_path_factory.mktemp("auth-ws")
    (root / "data").mkdir()
    (root / "train.py").write_text(textwrap.dedent(TRAIN))
    init_project(root)
    done = run_cli(
        ["train", "--command", f"{sys.executable} train.py", "--experiment", "auth-tests"],
        root,
        stage_env(mlflow_auth_server, mlflow_auth_server.user),
    )
    assert done.code == 0, done.stderr
    return Trained(root, done.outputs["model-uri"], "auth-model")


def assert_refused(done: CliRun, who: Credentials) -> None:
    """Exit 3, one error line that names the authentication problem, no password."""
    assert done.code == 3, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, done.stderr
    assert "401" in errors[0] or "not authenticated" in errors[0].lower(), errors[0]
    assert "MLFLOW_TRACKING_PASSWORD" in errors[0]  # what to check
    for text in (done.stdout, done.stderr):
        assert who.password not in text


def test_every_stage_works_with_credentials_from_its_environment(
    mlflow_auth_server: AuthServer, trained: Trained
) -> None:
    from mlflow.tracking import MlflowClient

    env = stage_env(mlflow_auth_server, mlflow_auth_server.user)
    assert trained.model_uri.startswith(("models:/m-", "runs:/"))

    evaluated = run_cli(
        [
            "evaluate",
            "--model-uri",
            trained.model_uri,
            "--model-name",
            trained.name,
            "--data",
            "data/validation.csv",
            "--target",
            "label",
            "--comment",
            "false",
        ],
        trained.workspace,
        env,
    )
    assert evaluated.code == 0, evaluated.stderr
    assert evaluated.outputs["passed"] == "true"
    assert evaluated.outputs["evaluation-run-id"]

    registered = run_cli(
        ["register", "--model-uri", trained.model_uri, "--model-name", trained.name],
        trained.workspace,
        env,
    )
    assert registered.code == 0, registered.stderr
    version = registered.outputs["model-version"]

    promoted = run_cli(
        ["promote", "--model-name", trained.name, "--version", str(version)],
        trained.workspace,
        env,
    )
    assert promoted.code == 0, promoted.stderr

    # What the server holds, read as the user.
    client = MlflowClient(mlflow_auth_server.server.uri_with(mlflow_auth_server.user))
    champion = client.get_model_version_by_alias(trained.name, "champion")
    assert str(champion.version) == str(version)
    assert champion.tags["modelship.run_id"]


def test_train_with_a_wrong_password_exits_3_naming_the_refusal(
    mlflow_auth_server: AuthServer, tmp_path: Path
) -> None:
    (tmp_path / "train.py").write_text("print('never runs')\n")
    who = wrong(mlflow_auth_server)
    done = run_cli(
        ["train", "--command", "python train.py", "--experiment", "auth-tests"],
        tmp_path,
        stage_env(mlflow_auth_server, who),
    )
    assert_refused(done, who)
    assert "never runs" not in done.stderr


@pytest.mark.parametrize("stage", ["evaluate", "register", "promote"])
def test_stage_with_a_wrong_password_exits_3_naming_the_refusal(
    mlflow_auth_server: AuthServer, trained: Trained, stage: str
) -> None:
    args = {
        "evaluate": [
            "--model-uri",
            trained.model_uri,
            "--data",
            "data/validation.csv",
            "--target",
            "label",
            "--comment",
            "false",
        ],
        "register": ["--model-uri", trained.model_uri],
        "promote": ["--version", "1"],
    }[stage]
    who = wrong(mlflow_auth_server)
    done = run_cli(
        [stage, "--model-name", trained.name, *args],
        trained.workspace,
        stage_env(mlflow_auth_server, who),
    )
    assert_refused(done, who)
