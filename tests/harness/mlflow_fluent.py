"""MLflow's fluent API (`mlflow.start_run`, `log_model`, `load_model`) pointed at a test server.

The fluent API keeps its tracking URI and experiment in process-wide state and
in `os.environ`. Tests share one process, so a fixture that logs models this
way puts everything back when it is done, through MLflow's public calls.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

_FLUENT_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


@contextlib.contextmanager
def fluent_mlflow(tracking_uri: str, experiment: str | None = None) -> Iterator[None]:
    """Inside the block, `mlflow.*` talks to `tracking_uri` (and logs into `experiment`)."""
    import mlflow

    saved = {name: os.environ.get(name) for name in _FLUENT_ENV}
    mlflow.set_tracking_uri(tracking_uri)
    try:
        if experiment:
            mlflow.set_experiment(experiment)
        yield
    finally:
        # None unsets MLflow's URI and its environment variable alike.
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
