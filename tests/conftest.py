"""Shared fixtures. Area-specific fixtures live in each test folder's conftest."""

from __future__ import annotations

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


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


pytest_plugins = [
    "tests.harness.fixtures",
    "tests.fixtures.docker_engine",
    "tests.fixtures.mlflow_server",
]
