"""Shared fixtures. Area-specific fixtures live in each test folder's conftest."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.mlflow_server import MlflowServer, mlflow_server

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mlflow_tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real MLflow tracking server for the whole session (slow to start: its
    workers can take minutes on a busy 2-core machine)."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow"), startup_timeout=600) as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated_process_state() -> Iterator[None]:
    """Stages run in-process in many tests, and MLflow's `set_tracking_uri` and
    `set_registry_uri` write to os.environ and module globals. Restore both
    after every test, so no test inherits another's tracking server."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    tracking = sys.modules.get("mlflow.tracking._tracking_service.utils")
    if tracking is not None:
        tracking._tracking_uri = None  # type: ignore[attr-defined]
    registry = sys.modules.get("mlflow.tracking._model_registry.utils")
    if registry is not None:
        registry._registry_uri = None  # type: ignore[attr-defined]


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


pytest_plugins = [
    "tests.harness.fixtures",
    "tests.fixtures.docker_engine",
    "tests.fixtures.mlflow_server",
]
