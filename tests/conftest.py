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
    """One real MLflow tracking server for the whole session (slow to start)."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
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


pytest_plugins = ["tests.harness.fixtures", "tests.fixtures.docker_engine"]

# Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`) every test is in
# one group, and a group runs on one worker, in order:
# * tests that share a costly Docker Engine state run together: the serving
#   image builds and the docker target on the session's engine and its cached
#   base image; the pipelines with jobs in containers on the job image;
# * tests that share the first push of the GitHub example pipeline under act
#   (its own tests and the other CIs', which compare their outputs with it);
# * every other test with the rest of its file, so a module's fixtures (a
#   trained model, a pipeline run) are made once.
SHARED_STATE_GROUPS = (
    ("docker-engine", {"real_docker", "docker_base_image", "suite_image"}),
    ("job-containers", {"docker_jobs_engine", "runner_image"}),
    ("github-first-push", {"github_first_push"}),
)


def xdist_group_of(item: pytest.Item) -> str:
    names = set(getattr(item, "fixturenames", ()))
    for group, fixtures in SHARED_STATE_GROUPS:
        if names & fixtures:
            return group
    return item.nodeid.split("::", 1)[0]


# First: xdist's own hook turns the marks into the groups it schedules by.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group every test (see above) and run the groups holding end-to-end runs
    first: the longest units start first, and the short ones fill the gaps."""
    groups: dict[str, str] = {}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(xdist_group_of(item)))
        marker = item.get_closest_marker("xdist_group")
        assert marker is not None
        groups[item.nodeid] = str(marker.kwargs.get("name", marker.args[0] if marker.args else ""))
    heavy = {groups[item.nodeid] for item in items if item.get_closest_marker("e2e")}
    items.sort(key=lambda item: groups[item.nodeid] not in heavy)
