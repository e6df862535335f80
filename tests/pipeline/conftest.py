"""Fixtures of the pipeline tests: the demo's own preparation of the example project."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.fixtures.mlflow_server import MlflowServer, mlflow_server
from tests.harness.container_engine import job_engine
from tests.harness.runner_image import Engine, ensure_runner_image

DEMO_PATH = Path(__file__).resolve().parents[2] / "workflows-examples" / "demo.py"


def load_demo() -> ModuleType:
    """`workflows-examples/demo.py` as a module: the tests prepare projects exactly as it does."""
    if "modelship_demo" in sys.modules:
        return sys.modules["modelship_demo"]
    spec = importlib.util.spec_from_file_location("modelship_demo", DEMO_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["modelship_demo"] = module
    spec.loader.exec_module(module)
    return module


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
    with mlflow_server(tmp_path_factory.mktemp("jobs-mlflow"), startup_timeout=600) as server:
        yield server
