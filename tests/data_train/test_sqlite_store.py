"""The embedded SQLite store written with `sqlite3`, checked against MLflow itself.

The same run is written through `MlflowClient` and through `SqliteStore`,
and every row MLflow keeps is compared; MLflow then reads the fast path's run
as its own. When the database is new or its tables differ, MLflow does the work.
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from modelship.ci.errors import ExternalError
from modelship.runstore import ClientStore, open_store
from modelship.sqlitestore import SqliteStore, open_sqlite, random_run_name, sqlite_path

TAGS = {"modelship.git.sha": "abc123", "mlflow.source.name": "python train.py"}


@pytest.fixture
def store_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An MLflow-made database holding the experiment `e`."""
    monkeypatch.chdir(tmp_path)  # MLflow puts ./mlruns artifacts under the working folder
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    ClientStore(uri).experiment_id("e")
    return uri


def rows(uri: str, table: str, run_id: str) -> list[tuple[Any, ...]]:
    path = sqlite_path(uri)
    assert path is not None
    with sqlite3.connect(path) as db:
        column = "run_uuid"
        query = f"SELECT * FROM {table} WHERE {column} = ?"  # noqa: S608 - the test's own names
        found = db.execute(query, (run_id,)).fetchall()
    return sorted(found, key=repr)


def write_run(store: Any, experiment_id: str) -> str:
    run_id: str = store.create_run(experiment_id, "nightly", TAGS)
    store.log_batch(
        run_id,
        params={"C": "0.5", "model": "logistic"},
        metrics={"accuracy": 0.93, "loss": float("inf")},
        tags={"stage": "train"},
    )
    store.log_batch(run_id, metrics={"accuracy": 0.95})
    store.finish(run_id, "FINISHED")
    return run_id


def without_ids(found: list[tuple[Any, ...]], run_id: str, *times: int) -> list[tuple[Any, ...]]:
    """Rows with the run id and the given timestamp columns blanked out."""
    cleaned = []
    for row in found:
        values = ["<run>" if v == run_id else v for v in row]
        for index in times:
            values[index] = "<time>"
        cleaned.append(tuple(str(v).replace(run_id, "<run>") for v in values))
    return sorted(cleaned)


def test_an_mlflow_database_opens_the_fast_store(store_uri: str) -> None:
    assert isinstance(open_store(store_uri, {}), SqliteStore)


def test_the_same_run_written_both_ways_leaves_the_same_rows(store_uri: str) -> None:
    client, fast = ClientStore(store_uri), open_sqlite(store_uri, {})
    assert fast is not None
    experiment_id = fast.experiment_id("e")
    assert experiment_id == client.experiment_id("e")
    by_mlflow = write_run(client, experiment_id)
    by_sqlite = write_run(fast, experiment_id)

    # runs: start_time (7) and end_time (8) differ; everything else is equal.
    assert without_ids(rows(store_uri, "runs", by_sqlite), by_sqlite, 7, 8) == without_ids(
        rows(store_uri, "runs", by_mlflow), by_mlflow, 7, 8
    )
    for table, times in (("tags", ()), ("params", ()), ("metrics", (2,)), ("latest_metrics", (2,))):
        assert without_ids(rows(store_uri, table, by_sqlite), by_sqlite, *times) == without_ids(
            rows(store_uri, table, by_mlflow), by_mlflow, *times
        ), table


def test_mlflow_reads_the_fast_run_as_its_own(store_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    fast = open_sqlite(store_uri, {})
    assert fast is not None
    experiment_id = fast.experiment_id("e")
    run_id = fast.create_run(experiment_id, None, TAGS)
    fast.log_batch(run_id, params={"C": "0.5"}, metrics={"accuracy": 0.9, "gap": math.nan})

    run = MlflowClient(store_uri).get_run(run_id)
    assert run.info.status == "RUNNING"
    assert run.info.experiment_id == experiment_id
    assert run.info.run_name == run.data.tags["mlflow.runName"]
    assert run.info.artifact_uri.endswith(f"/{experiment_id}/{run_id}/artifacts")
    assert run.data.params == {"C": "0.5"}
    assert run.data.metrics["accuracy"] == 0.9
    assert math.isnan(run.data.metrics["gap"])
    assert run.data.tags["modelship.git.sha"] == "abc123"

    # What the training process adds through MLflow, the fast store reads back.
    MlflowClient(store_uri).log_metric(run_id, "from_training", 2.0)
    assert fast.get_run(run_id).metrics["from_training"] == 2.0
    fast.finish(run_id, "KILLED")
    assert MlflowClient(store_uri).get_run(run_id).info.status == "KILLED"


def test_logged_models_of_the_run_are_found(store_uri: str) -> None:
    import mlflow

    fast = open_sqlite(store_uri, {})
    assert fast is not None
    experiment_id = fast.experiment_id("e")
    run_id = fast.create_run(experiment_id, "with-model", {})
    mlflow.set_tracking_uri(store_uri)
    # MLflow's active experiment is process-wide: another test may have set one.
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(name="model", python_model=_Echo())
    models = fast.logged_models(experiment_id, run_id)
    assert [m.uri for m in models] == [f"models:/{info.model_id}"]
    assert models == ClientStore(store_uri).logged_models(experiment_id, run_id)


class _Echo:
    """The smallest pyfunc model (defined lazily so importing this file stays light)."""

    def __new__(cls) -> Any:
        import mlflow.pyfunc

        class Echo(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
            def predict(
                self, context: Any, model_input: list[str], params: Any = None
            ) -> list[str]:
                return model_input

        return Echo()


def test_the_fast_path_never_imports_mlflow(store_uri: str, tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from modelship.runstore import open_store
        store = open_store({store_uri!r}, {{}})
        experiment_id = store.experiment_id("e")
        run_id = store.create_run(experiment_id, None, {{}})
        store.log_batch(run_id, params={{"a": "1"}}, metrics={{"m": 1.0}})
        store.get_run(run_id)
        store.logged_models(experiment_id, run_id)
        store.finish(run_id, "FINISHED")
        print(type(store).__name__, sorted(m for m in sys.modules if m.split(".")[0] == "mlflow"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert done.stdout.strip() == "SqliteStore []"


def test_a_new_experiment_is_created_by_mlflow(store_uri: str) -> None:
    fast = open_sqlite(store_uri, {})
    assert fast is not None
    created = fast.experiment_id("brand-new")
    from mlflow.tracking import MlflowClient

    experiment = MlflowClient(store_uri).get_experiment(created)
    assert experiment.name == "brand-new"
    assert fast.experiment_id("brand-new") == created


@pytest.mark.parametrize(
    "uri",
    [
        "sqlite:///{root}/absent.db",
        "sqlite:///{root}/mlruns.db?timeout=5",
        "sqlite:///:memory:",
        "file:///{root}/mlruns",
        "postgresql://u@h/db",
    ],
)
def test_other_stores_are_left_to_mlflow(uri: str, store_uri: str, tmp_path: Path) -> None:
    assert open_sqlite(uri.format(root=tmp_path), {}) is None


def test_mlflow_workspaces_are_left_to_mlflow(store_uri: str) -> None:
    assert open_sqlite(store_uri, {"MLFLOW_ENABLE_WORKSPACES": "false"}) is not None
    assert open_sqlite(store_uri, {"MLFLOW_ENABLE_WORKSPACES": "true"}) is None
    assert isinstance(open_store(store_uri, {"MLFLOW_ENABLE_WORKSPACES": "1"}), ClientStore)


def test_a_changed_schema_is_left_to_mlflow(store_uri: str) -> None:
    path = sqlite_path(store_uri)
    assert path is not None
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE runs ADD COLUMN workspace VARCHAR(63)")
    assert open_sqlite(store_uri, {}) is None
    assert isinstance(open_store(store_uri, {}), ClientStore)


def test_a_file_that_is_not_a_database_is_left_to_mlflow(tmp_path: Path) -> None:
    (tmp_path / "broken.db").write_text("not a database")
    assert open_sqlite(f"sqlite:///{tmp_path / 'broken.db'}", {}) is None


def test_bad_input_is_refused_as_mlflow_would(store_uri: str) -> None:
    fast = open_sqlite(store_uri, {})
    assert fast is not None
    experiment_id = fast.experiment_id("e")
    run_id = fast.create_run(experiment_id, "x", {})
    with pytest.raises(ExternalError, match="invalid param name"):
        fast.log_batch(run_id, params={"bad;key": "1"})
    with pytest.raises(ExternalError, match="at most 6,000"):
        fast.log_batch(run_id, params={"long": "x" * 6001})
    fast.log_batch(run_id, params={"C": "1"})
    fast.log_batch(run_id, params={"C": "1"})  # the same value again is fine
    with pytest.raises(ExternalError, match="already '1'"):
        fast.log_batch(run_id, params={"C": "2"})
    with pytest.raises(ExternalError, match="not in"):
        fast.finish("0" * 32, "FINISHED")
    with pytest.raises(ExternalError, match="contradicts"):
        fast.create_run(experiment_id, "a", {"mlflow.runName": "b"})
    # Nothing of the refused batches was written.
    assert fast.get_run(run_id).params == {"C": "1"}


def test_a_deleted_experiment_is_named(store_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    fast = open_sqlite(store_uri, {})
    assert fast is not None
    MlflowClient(store_uri).delete_experiment(fast.experiment_id("e"))
    with pytest.raises(ExternalError, match="'e' is deleted"):
        fast.experiment_id("e")


def test_run_names_look_like_mlflow_names() -> None:
    import random

    name = random_run_name(random.Random(1))
    adjective, noun, number = name.split("-")
    assert adjective.isalpha()
    assert noun.isalpha()
    assert 0 <= int(number) <= 999
