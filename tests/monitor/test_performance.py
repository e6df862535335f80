"""Prediction drift and the performance drop that asks for retraining."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tests.harness.cli import run_cli
from tests.monitor.conftest import write_table


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    path = tmp_path_factory.mktemp("model") / "model"
    mlflow.sklearn.save_model(LogisticRegression().fit(x, y), path)
    return path


def _labelled(rows: int, flip: bool, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    label = (a + b > 0).astype(int)
    if flip:  # the world changed: same inputs, other outcomes
        label = 1 - label
    return pa.table({"a": a, "b": b, "label": label})


def test_performance_drop_sets_retrain_without_data_drift(tmp_path: Path, model: Path) -> None:
    write_table(_labelled(600, False, 1), tmp_path / "ref.parquet")
    write_table(_labelled(600, True, 2), tmp_path / "cur.parquet")
    metrics = tmp_path / "m.prom"
    run = run_cli(
        [
            "monitor",
            "--reference",
            "ref.parquet",
            "--current",
            "cur.parquet",
            "--json",
            "--target",
            "label",
            "--model-uri",
            str(model),
            "--metrics-file",
            str(metrics),
            "--model-name",
            "clf",
        ],
        tmp_path,
    )
    assert run.code == 0, run.stderr
    assert run.outputs["drift-detected"] == "false"
    assert run.outputs["retrain"] == "true"
    report = json.loads((tmp_path / run.outputs["report-json"]).read_text())
    perf = report["performance"]
    assert perf["metric"] == "accuracy"
    assert perf["reference"] > 0.9
    assert perf["current"] < 0.1
    assert perf["dropped"] is True
    assert report["prediction_drift"]["drifted"] is False
    text = metrics.read_text()
    assert 'modelship_model_performance{dataset="current",metric="accuracy",model="clf"}' in text
    assert 'modelship_retrain{model="clf"} 1' in text


def test_same_world_no_retrain(tmp_path: Path, model: Path) -> None:
    write_table(_labelled(600, False, 1), tmp_path / "ref.parquet")
    write_table(_labelled(600, False, 2), tmp_path / "cur.parquet")
    run = run_cli(
        [
            "monitor",
            "--reference",
            "ref.parquet",
            "--current",
            "cur.parquet",
            "--json",
            "--target",
            "label",
            "--model-uri",
            str(model),
        ],
        tmp_path,
    )
    assert run.code == 0, run.stderr
    assert run.outputs["retrain"] == "false"


def test_unknown_model_is_an_external_error(tmp_path: Path) -> None:
    write_table(_labelled(100, False, 1), tmp_path / "ref.parquet")
    write_table(_labelled(100, False, 2), tmp_path / "cur.parquet")
    run = run_cli(
        [
            "monitor",
            "--reference",
            "ref.parquet",
            "--current",
            "cur.parquet",
            "--target",
            "label",
            "--model-uri",
            str(tmp_path / "no-model"),
        ],
        tmp_path,
    )
    assert run.code == 3
    assert "cannot load" in run.stderr


def test_a_password_in_the_tracking_uri_never_shows_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.net import free_port

    # MLflow's own retries would take minutes against a closed port.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    monkeypatch.chdir(tmp_path)  # MLflow's default store would appear here as mlflow.db
    write_table(_labelled(100, False, 1), tmp_path / "ref.parquet")
    write_table(_labelled(100, False, 2), tmp_path / "cur.parquet")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)}
    run = run_cli(
        [
            "monitor",
            "--reference",
            "ref.parquet",
            "--current",
            "cur.parquet",
            "--model-uri",
            "models:/churn@champion",
            "--tracking-uri",
            f"http://admin:S3cret@127.0.0.1:{free_port()}",
        ],
        tmp_path,
        env,
    )
    assert run.code == 3, run.stderr
    # The registry asked was the given server (refused), not a default local store.
    assert "tracking server at http://***@127.0.0.1" in run.stderr, run.stderr
    assert "connection refused" in run.stderr.lower(), run.stderr
    assert not (tmp_path / "mlflow.db").exists()
    shown = [line for line in run.stderr.splitlines() if not line.startswith("::add-mask::")]
    assert not any("S3cret" in line for line in shown + run.stdout.splitlines())
    for report in (tmp_path / "modelship-reports").glob("*"):
        assert "S3cret" not in report.read_text()


@pytest.mark.parametrize(
    "reference", ["models:/clf@champion", "models:/clf/1", "models:/clf/latest"]
)
def test_a_registered_model_is_found_through_the_given_tracking_uri(
    tmp_path: Path, model: Path, reference: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow's default store would appear here as mlflow.db
    store = f"sqlite:///{tmp_path / 'registry.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    client.create_registered_model("clf")
    client.create_model_version("clf", source=str(model))
    client.set_registered_model_alias("clf", "champion", "1")
    write_table(_labelled(300, False, 1), tmp_path / "ref.parquet")
    write_table(_labelled(300, True, 2), tmp_path / "cur.parquet")
    run = run_cli(
        [
            "monitor",
            "--reference",
            "ref.parquet",
            "--current",
            "cur.parquet",
            "--target",
            "label",
            "--model-uri",
            reference,
            "--tracking-uri",
            store,
            "--json",
        ],
        tmp_path,
    )
    assert run.code == 0, run.stderr
    assert run.outputs["retrain"] == "true"  # the flipped labels: accuracy dropped
    assert not (tmp_path / "mlflow.db").exists()
