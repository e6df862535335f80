"""Fixtures of the pipeline tests: the demo's own preparation of the example project."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.fixtures.mlflow_server import MlflowServer, mlflow_server
from tests.harness.container_engine import job_engine
from tests.harness.demo import load_demo
from tests.harness.runner_image import Engine, ensure_runner_image


@pytest.fixture(scope="session")
def demo() -> ModuleType:
    return load_demo()


@pytest.fixture(scope="session")
def docker_jobs_engine() -> Iterator[Engine]:
    """The Docker Engine the job containers run on (see tests/harness/container_engine.py)."""
    with job_engine() as engine:
        yield engine


@pytest.fixture(scope="session")
def runner_image(docker_jobs_engine: Engine) -> str:
    """`workflows-examples/runner-image` built on a debootstrapped Debian, cached."""
    image, _took = ensure_runner_image(docker_jobs_engine)
    return image


@pytest.fixture(scope="module")
def jobs_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A tracking server of the module's own on the loopback: a job container
    reaches it over the host network, as a CI job reaches a shared server.
    (A SQLite file in a host folder would be invisible to the jobs.) Its
    workers can take minutes to start on a busy 2-core machine."""
    with mlflow_server(tmp_path_factory.mktemp("jobs-mlflow")) as server:
        yield server
