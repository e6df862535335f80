"""Shared fixtures. Area-specific fixtures live in each test folder's conftest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

# Under pytest-xdist (`make test` runs `-n 2 --dist loadscope`) the unit of
# scheduling is a group of tests that one worker runs, in order:
# * the tests that share a costly Docker Engine state: the serving image builds
#   and the docker target on the session's engine and its cached base image;
#   the pipelines with jobs in containers on the job image;
# * the tests that share the first push of the GitHub example pipeline under
#   act (its own tests, and the other CIs' comparison with its outputs);
# * every other file on its own, so a module's fixtures (a trained model, a
#   pipeline run) are made once.
# The scheduler sees only test ids, so the groups are listed by file; a test
# that uses one of the shared fixtures from a file not listed stops the run.
SHARED_STATE_FILES = {
    "tests/build/test_docker_real.py": "docker-engine",
    "tests/deploy/test_docker_target.py": "docker-engine",
    "tests/packaging/test_suite_image.py": "docker-engine",
    "tests/pipeline/test_demo_containers.py": "docker-engine",
    "tests/pipeline/test_job_isolation.py": "job-containers",
    "tests/pipeline/test_github_pipeline_containers.py": "job-containers",
    "tests/pipeline/test_gitlab_pipeline_containers.py": "job-containers",
    "tests/pipeline/test_github_pipeline.py": "github-first-push",
    "tests/other_ci/test_stage_commands.py": "github-first-push",
}
SHARED_FIXTURES = {
    "real_docker": "docker-engine",
    "docker_base_image": "docker-engine",
    "suite_image": "docker-engine",
    "docker_jobs_engine": "job-containers",
    "runner_image": "job-containers",
    "github_first_push": "github-first-push",
}


def scheduling_group(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return SHARED_STATE_FILES.get(path, path)


def _check_shared_state_groups(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in sorted(set(getattr(item, "fixturenames", ())) & set(SHARED_FIXTURES)):
            if scheduling_group(item.nodeid) != SHARED_FIXTURES[fixture]:
                raise pytest.UsageError(
                    f"{item.nodeid} uses {fixture}: list its file in SHARED_STATE_FILES "
                    f"(tests/conftest.py) under {SHARED_FIXTURES[fixture]!r}"
                )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the groups (see above), and run the groups holding end-to-end runs
    first: the longest units start first, and the short ones fill the gaps."""
    _check_shared_state_groups(items)
    heavy = {scheduling_group(item.nodeid) for item in items if item.get_closest_marker("e2e")}
    items.sort(key=lambda item: scheduling_group(item.nodeid) not in heavy)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` with the groups above as its scopes.

    xdist's own `loadgroup` marks its groups by rewriting each test's id, which
    pytest 9.2 no longer reads: its groups would be ignored (pytest-xdist issue
    1386, fix proposed in pull request 1388). `_split_scope` is the method
    xdist's own `LoadGroupScheduling` overrides for the same purpose; once the
    fix is released, `xdist_group` marks and `--dist loadgroup` replace this."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedStateScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scheduling_group(nodeid)

    return SharedStateScheduling(config, log)
