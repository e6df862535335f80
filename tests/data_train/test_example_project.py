"""The example project through `data` then `train`, as a pipeline would run it."""

from __future__ import annotations

import json

import pytest

from modelship.tracking import lineage
from modelship.tracking.models import parse_model_uri
from tests.data_train.conftest import Project, run_cli
from tests.data_train.test_train_stage import get_run, metrics_of, tags_of
from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.cli import host_env
from tests.harness.mlflow_fluent import fluent_mlflow


def test_data_then_train_leaves_a_run_with_lineage_and_a_loadable_model(
    mlflow_tracking: MlflowServer, project: Project
) -> None:
    project.drop_local_data()
    data = run_cli(["data"], project.root)
    assert data.code == 0, data.stderr
    version = data.outputs["data-version"]

    # mode auto finds dvc.yaml and runs `dvc repro`; the data version comes
    # from the data stage's local outputs.
    done = run_cli(
        ["train", "--tracking-uri", mlflow_tracking.uri, "--experiment", "example"],
        project.root,
    )
    assert done.code == 0, done.stderr
    assert "dvc repro" in done.stderr
    model_uri = done.outputs["model-uri"]
    assert parse_model_uri(model_uri).kind == "logged"

    metrics = json.loads(done.outputs["metrics"])
    written = json.loads((project.root / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(written["accuracy"])
    assert metrics["accuracy"] > 0.9

    run = get_run(mlflow_tracking, done.outputs["run-id"])
    assert run["info"]["status"] == "FINISHED"
    tags = tags_of(run)
    assert tags[lineage.DATA_VERSION] == version
    assert tags[lineage.BRANCH] == "main"
    assert metrics_of(run)["roc_auc"] > 0.95

    import mlflow
    import pandas as pd

    with fluent_mlflow(mlflow_tracking.uri):
        model = mlflow.pyfunc.load_model(model_uri)
    smoke = json.loads((project.root / "smoke.json").read_text())["dataframe_split"]
    rows = pd.DataFrame(smoke["data"], columns=smoke["columns"])
    assert list(model.predict(rows)) == [0, 0, 1, 1]


def test_the_worse_model_knob_through_dvc_params(
    mlflow_tracking: MlflowServer, project: Project
) -> None:
    done = run_cli(
        [
            "train",
            "--tracking-uri",
            mlflow_tracking.uri,
            "--experiment",
            "example",
            "--params",
            "train.model=dummy",
        ],
        project.root,
    )
    assert done.code == 0, done.stderr
    assert "exp run --set-param train.model=dummy" in done.stderr
    metrics = json.loads(done.outputs["metrics"])
    assert metrics["accuracy"] < 0.7
    assert metrics["roc_auc"] == pytest.approx(0.5)
    params = {
        p["key"]: p["value"]
        for p in get_run(mlflow_tracking, done.outputs["run-id"])["data"]["params"]
    }
    assert params["train.model"] == "dummy"


def test_default_store_is_sqlite_in_the_workspace(project: Project) -> None:
    done = run_cli(["train", "--command", "python train.py"], project.root, host_env())
    assert done.code == 0, done.stderr
    assert (project.root / "mlruns.db").is_file()
    uri = f"sqlite:///{project.root.resolve() / 'mlruns.db'}"
    assert done.outputs["tracking-uri"] == uri
    assert done.outputs["run-url"] == ""
    assert done.outputs["model-uri"].startswith("models:/m-")

    # The second run finds MLflow's tables and writes them with sqlite3:
    # MLflow sees the same run, lineage, metrics and a loadable model.
    again = run_cli(
        ["train", "--command", "python train.py", "--params", "train.C=0.5"],
        project.root,
        host_env(),
    )
    assert again.code == 0, again.stderr
    from mlflow.tracking import MlflowClient

    run = MlflowClient(uri).get_run(again.outputs["run-id"])
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == done.outputs["experiment-id"]
    assert run.data.tags[lineage.BRANCH] == "main"
    assert run.data.params["train.C"] == "0.5"
    assert run.data.metrics["accuracy"] == json.loads(again.outputs["metrics"])["accuracy"]

    import mlflow
    import pandas as pd

    with fluent_mlflow(uri):
        model = mlflow.pyfunc.load_model(again.outputs["model-uri"])
    smoke = json.loads((project.root / "smoke.json").read_text())["dataframe_split"]
    assert len(model.predict(pd.DataFrame(smoke["data"], columns=smoke["columns"]))) == 4


def test_mlflow_project_mode(mlflow_tracking: MlflowServer, project: Project) -> None:
    (project.root / "dvc.yaml").unlink()
    (project.root / "MLproject").write_text(
        "name: example\n"
        "entry_points:\n"
        "  main:\n"
        "    parameters:\n"
        "      note: {type: string, default: none}\n"
        "    command: python train.py\n"
    )
    done = run_cli(
        [
            "train",
            "--tracking-uri",
            mlflow_tracking.uri,
            "--experiment",
            "example-mlproject",
            "--params",
            "note=hello",
        ],
        project.root,
    )
    assert done.code == 0, done.stderr
    assert "run . --env-manager local" in done.stderr
    run = get_run(mlflow_tracking, done.outputs["run-id"])
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["note"] == "hello"
    assert done.outputs["model-uri"].startswith("models:/m-")


def test_examples_own_tests_pass(project: Project) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=host_env(),
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "7 passed" in done.stdout
