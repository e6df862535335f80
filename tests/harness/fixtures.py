"""Session fixtures for end-to-end runs: the checkout copy and the job environments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.checkout import export_checkout
from tests.harness.demo import FirstPush, first_github_push


@pytest.fixture(scope="session")
def modelship_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as `modelship/modelship@v1` (no .venv, no caches)."""
    return export_checkout(tmp_path_factory.mktemp("modelship-v1"))


@pytest.fixture(scope="session")
def action_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the actions install modelship; shared by every act run of the session."""
    return tmp_path_factory.mktemp("action-venv") / "venv"


@pytest.fixture(scope="session")
def gitlab_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv standing in for the job image's Python (its bin folder).

    It carries uv, as a job image may, so the templates' install step takes
    the uv path: installing the mlflow extra with pip in every job would cost
    minutes per test on this machine. The pip path is what the image default
    takes; `tests/foundation/test_e2e.py` runs it with pip.
    """
    venv = tmp_path_factory.mktemp("gitlab-python") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "uv",
        ],
        check=True,
    )
    return venv / "bin"


@pytest.fixture(scope="session")
def gitlab_python_pip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv without uv: the templates install modelship with pip."""
    venv = tmp_path_factory.mktemp("gitlab-python-pip") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return venv / "bin"


@pytest.fixture(scope="session")
def github_first_push(
    tmp_path_factory: pytest.TempPathFactory, modelship_checkout: Path, action_venv: Path
) -> FirstPush:
    """The GitHub example pipeline's first push under act, run once per session:
    its own tests and the other CIs' comparison with it read the same run."""
    return first_github_push(
        tmp_path_factory.mktemp("gh-pipeline"), modelship_checkout, action_venv
    )
