"""The embedded SQLite tracking store, read and written with the standard library.

`modelship train` on the default store (`sqlite:///mlruns.db`) would otherwise
import MLflow just to open a run and close it: about three seconds of
imports and schema checks, paid again by the training process itself. The
handful of rows the train stage writes (a run, its tags, params and metrics,
its final status) are plain inserts and updates, so this store writes them
with `sqlite3`, exactly as MLflow's `SqlAlchemyStore` does.

It is only used when it is safe: the database exists and every table it
touches has exactly the columns below (MLflow 3's schema). Anything else -
a new database (MLflow runs its migrations to create it), an MLflow that
changed these tables, MLflow's workspaces switched on, a new experiment whose
artifact location MLflow decides - goes through `MlflowClient`, so MLflow's
own rules apply. A test writes the same run both ways and compares the rows.
"""

from __future__ import annotations

import math
import random
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

from modelship.ci.errors import ExternalError
from modelship.runstore import ClientStore, LoggedModel, RunState, deleted_experiment, now_ms
from modelship.tracking import redact_uri

T = TypeVar("T")

# The columns of every table this store reads or writes, as MLflow 3 creates them.
SCHEMA = {
    "experiments": {
        "experiment_id",
        "name",
        "artifact_location",
        "lifecycle_stage",
        "creation_time",
        "last_update_time",
        "workspace",
    },
    "runs": {
        "run_uuid",
        "name",
        "source_type",
        "source_name",
        "entry_point_name",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "source_version",
        "lifecycle_stage",
        "artifact_uri",
        "experiment_id",
        "deleted_time",
    },
    "tags": {"key", "value", "run_uuid"},
    "params": {"key", "value", "run_uuid"},
    "metrics": {"key", "value", "timestamp", "run_uuid", "step", "is_nan"},
    "latest_metrics": {"key", "value", "timestamp", "step", "is_nan", "run_uuid"},
    "logged_models": {
        "model_id",
        "experiment_id",
        "name",
        "artifact_location",
        "creation_timestamp_ms",
        "last_updated_timestamp_ms",
        "status",
        "lifecycle_stage",
        "model_type",
        "source_run_id",
        "status_message",
    },
}
DEFAULT_WORKSPACE = "default"
LOGGED_MODEL_READY = 2  # mlflow.protos.service_pb2.LoggedModelStatus
# MLflow's limits (mlflow.utils.validation), checked here as MLflow would.
MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
# How long a write waits for the training process to release the database.
BUSY_TIMEOUT = 30.0
_KEY = re.compile(r"^[/\w.\- :]*$")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a plain `sqlite:///<path>` URI; None for anything else."""
    if not uri.startswith("sqlite:///") or "?" in uri or "#" in uri:
        return None
    path = unquote(uri[len("sqlite:///") :])
    if not path or path == ":memory:":
        return None
    return Path(path)


def open_sqlite(uri: str, env: Mapping[str, str]) -> SqliteStore | None:
    """A `SqliteStore` when the URI names an existing database with MLflow 3's tables.

    Not with MLflow's workspaces switched on: experiments then belong to the
    active workspace, which MLflow resolves.
    """
    path = sqlite_path(uri)
    if path is None or not path.is_file():
        return None
    if env.get("MLFLOW_ENABLE_WORKSPACES", "").strip().lower() not in ("", "false", "0"):
        return None
    try:
        with _connect(path) as db:
            for table, columns in SCHEMA.items():
                found = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if found != columns:
                    return None
    except sqlite3.Error:
        return None  # MlflowClient reports it, in MLflow's words
    return SqliteStore(uri, path)


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    # Autocommit mode; `_write` opens an immediate transaction itself.
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


class SqliteStore:
    """The `RunStore` calls the train stage makes, on MLflow's SQLite schema."""

    def __init__(self, uri: str, path: Path) -> None:
        self.uri = uri
        self.shown = redact_uri(uri)
        self._path = path
        self._client: ClientStore | None = None

    def _run(self, call: Callable[[sqlite3.Connection], T], write: bool = False) -> T:
        try:
            with _connect(self._path) as db:
                if not write:
                    return call(db)
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = call(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
        except sqlite3.Error as err:
            raise ExternalError(
                f"MLflow tracking store {self.shown} failed: {str(err)[:300]}",
                "check the tracking-uri input or MLFLOW_TRACKING_URI",
            ) from None

    def _mlflow(self) -> ClientStore:
        if self._client is None:
            self._client = ClientStore(self.uri)
        return self._client

    def experiment_id(self, name: str) -> str:
        found = self._run(
            lambda db: db.execute(
                "SELECT experiment_id, lifecycle_stage FROM experiments "
                "WHERE name = ? AND workspace = ?",
                (name, DEFAULT_WORKSPACE),
            ).fetchone()
        )
        if found is None:
            # MLflow decides where a new experiment keeps its artifacts.
            return self._mlflow().experiment_id(name)
        if found[1] == "deleted":
            raise deleted_experiment(name, self.shown)
        return str(found[0])

    def create_run(self, experiment_id: str, run_name: str | None, tags: Mapping[str, str]) -> str:
        _check_keys(tags, MAX_TAG_LENGTH, "tag")
        tag_name = tags.get("mlflow.runName")
        if run_name and tag_name and run_name != tag_name:
            raise ExternalError(f"run name {run_name!r} contradicts the tag mlflow.runName")
        name = run_name or tag_name or random_run_name()
        all_tags = {**tags, "mlflow.runName": name}
        run_id = uuid.uuid4().hex

        def insert(db: sqlite3.Connection) -> None:
            experiment = db.execute(
                "SELECT artifact_location, lifecycle_stage FROM experiments "
                "WHERE experiment_id = ?",
                (int(experiment_id),),
            ).fetchone()
            if experiment is None or experiment[1] != "active":
                raise ExternalError(
                    f"experiment {experiment_id} is missing or deleted in {self.shown}",
                    "restore it or choose another experiment name",
                )
            db.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, "
                "entry_point_name, user_id, status, start_time, end_time, source_version, "
                "lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
                "VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
                (
                    run_id,
                    name,
                    tags.get("mlflow.user", "unknown"),
                    now_ms(),
                    _artifact_uri(str(experiment[0]), run_id),
                    int(experiment_id),
                ),
            )
            db.executemany(
                "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                [(k, v, run_id) for k, v in all_tags.items()],
            )

        self._run(insert, write=True)
        return run_id

    def log_batch(
        self,
        run_id: str,
        params: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        params, metrics, tags = params or {}, metrics or {}, tags or {}
        if not (params or metrics or tags):
            return
        _check_keys(params, MAX_PARAM_LENGTH, "param")
        _check_keys(tags, MAX_TAG_LENGTH, "tag")
        _check_keys(dict.fromkeys(metrics, ""), 0, "metric")
        now = now_ms()

        def write(db: sqlite3.Connection) -> None:
            self._active_run(db, run_id)
            for key, value in params.items():
                logged = db.execute(
                    "SELECT value FROM params WHERE run_uuid = ? AND key = ?", (run_id, key)
                ).fetchone()
                if logged is None:
                    db.execute(
                        "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                        (key, value, run_id),
                    )
                elif logged[0] != value:
                    raise ExternalError(
                        f"param {key!r} of run {run_id} is already {logged[0]!r}; MLflow does "
                        f"not allow changing it to {value!r}"
                    )
            for key, number in metrics.items():
                stored, is_nan = _stored_metric(number)
                db.execute(
                    "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                    "VALUES (?, ?, ?, ?, 0, ?)",
                    (key, stored, now, run_id, is_nan),
                )
                latest = db.execute(
                    "SELECT step, timestamp, value FROM latest_metrics "
                    "WHERE run_uuid = ? AND key = ?",
                    (run_id, key),
                ).fetchone()
                # MLflow keeps the value with the greatest (step, timestamp, value).
                if latest is None or (0, now, stored) > (latest[0], latest[1] or 0, latest[2]):
                    db.execute(
                        "INSERT OR REPLACE INTO latest_metrics "
                        "(key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, 0, ?, ?)",
                        (key, stored, now, is_nan, run_id),
                    )
            for key, value in tags.items():
                db.execute(
                    "INSERT OR REPLACE INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                    (key, value, run_id),
                )
                if key == "mlflow.runName":
                    db.execute("UPDATE runs SET name = ? WHERE run_uuid = ?", (value, run_id))

        self._run(write, write=True)

    def _active_run(self, db: sqlite3.Connection, run_id: str) -> None:
        row = db.execute(
            "SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise ExternalError(f"run {run_id} is not in {self.shown}")
        if row[0] != "active":
            raise ExternalError(f"run {run_id} is deleted in {self.shown}")

    def get_run(self, run_id: str) -> RunState:
        def read(db: sqlite3.Connection) -> RunState:
            row = db.execute("SELECT status FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
            if row is None:
                raise ExternalError(f"run {run_id} is not in {self.shown}")
            metrics = db.execute(
                "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", (run_id,)
            )
            return RunState(
                status=str(row[0]),
                metrics={k: math.nan if nan else float(v) for k, v, nan in metrics},
                params=dict(
                    db.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_id,))
                ),
                tags=dict(db.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,))),
            )

        return self._run(read)

    def logged_models(self, experiment_id: str, run_id: str) -> list[LoggedModel]:
        rows = self._run(
            lambda db: db.execute(
                "SELECT model_id, name, creation_timestamp_ms FROM logged_models "
                "WHERE experiment_id = ? AND source_run_id = ? AND status = ? "
                "AND (lifecycle_stage IS NULL OR lifecycle_stage = 'active') "
                "ORDER BY creation_timestamp_ms",
                (int(experiment_id), run_id, LOGGED_MODEL_READY),
            ).fetchall()
        )
        return [LoggedModel(f"models:/{mid}", str(name), int(ms or 0)) for mid, name, ms in rows]

    def finish(self, run_id: str, status: str) -> None:
        def update(db: sqlite3.Connection) -> None:
            self._active_run(db, run_id)
            db.execute(
                "UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?",
                (status, now_ms(), run_id),
            )

        self._run(update, write=True)


def _artifact_uri(experiment_location: str, run_id: str) -> str:
    """MLflow's `append_to_uri_path(location, run_id, "artifacts")` for paths and URIs."""
    return f"{experiment_location.rstrip('/')}/{run_id}/artifacts"


def _stored_metric(value: float) -> tuple[float, int]:
    """(value, is_nan) as MLflow stores a metric: NaN as 0, infinities clamped."""
    if math.isnan(value):
        return 0.0, 1
    if math.isinf(value):
        return (1.7976931348623157e308 if value > 0 else -1.7976931348623157e308), 0
    return float(value), 0


def _check_keys(values: Mapping[str, str], max_value: int, kind: str) -> None:
    for key, value in values.items():
        if not key or len(key) > MAX_KEY_LENGTH or not _valid_key(key):
            raise ExternalError(
                f"invalid {kind} name {key[:60]!r}: MLflow accepts up to {MAX_KEY_LENGTH} "
                "letters, digits, and _ - . / : or space"
            )
        if max_value and len(value) > max_value:
            raise ExternalError(
                f"{kind} {key!r} is {len(value):,} characters; MLflow keeps at most {max_value:,}"
            )


def _valid_key(key: str) -> bool:
    # MLflow's rule (mlflow.utils.validation), and no path that climbs out of the run.
    return bool(_KEY.match(key)) and ".." not in key.split("/")


def random_run_name(rng: random.Random | None = None) -> str:
    """An MLflow-style run name, e.g. `quiet-otter-417`, for a run given none."""
    rng = rng or random.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(0, 999)}"


_ADJECTIVE_TEXT = """
bold brave bright calm clever crisp eager fair gentle glad grand honest keen kind lively lucky
merry nimble noble polite proud quick quiet rare shy smart steady swift tidy vivid warm wise
"""
_NOUN_TEXT = """
ant bass bear bee crane crow deer dove eel elk finch fox gnat goat hare hawk heron ibis jay koi
lark lynx mole moth newt otter owl panda quail robin seal shrew snail stork swan toad trout vole
wasp wren yak
"""
_ADJECTIVES = _ADJECTIVE_TEXT.split()
_NOUNS = _NOUN_TEXT.split()
