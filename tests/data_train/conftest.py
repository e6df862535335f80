"""Fixtures of the data and train tests: the example project in a temporary git
repository with DVC and a local-directory remote, and the CLI run in-process."""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import cli as harness_cli
from tests.harness.checkout import copy_example_project, git
from tests.harness.cli import BIN, host_env

# The data and train stages run dvc and python from the host's PATH; every run
# reports its outputs as JSON.
run_cli = functools.partial(harness_cli.run_cli, json_outputs=True, inherit=True)


def dvc(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "dvc"), *args], cwd=cwd, capture_output=True, text=True, env=host_env()
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass(frozen=True)
class Project:
    """A copy of the example project: git repository, DVC data pushed to `remote`."""

    root: Path
    remote: Path

    def object(self, path: str) -> Path:
        """The remote's copy of a tracked file."""
        md5 = self.lock_md5(path)
        return self.remote / "files" / "md5" / md5[:2] / md5[2:]

    def lock_md5(self, path: str) -> str:
        import yaml

        lock = yaml.safe_load((self.root / "dvc.lock").read_text())
        for stage in lock["stages"].values():
            for out in stage.get("outs", []):
                if out["path"] == path:
                    return str(out["md5"])
        raise KeyError(path)

    def drop_local_data(self) -> None:
        """As on a fresh CI runner: no workspace copies, no DVC cache."""
        shutil.rmtree(self.root / ".dvc" / "cache", ignore_errors=True)
        for name in ("train.csv", "validation.csv"):
            (self.root / "data" / name).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def prepared_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Made once: git init, `dvc repro prepare`, `dvc push` to a local remote."""
    base = tmp_path_factory.mktemp("template")
    root, remote = base / "project", base / "remote"
    copy_example_project(root)
    dvc(root, "remote", "add", "-d", "storage", str(remote))
    dvc(root, "repro", "prepare")
    dvc(root, "push")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "example project")
    return Project(root, remote)


@pytest.fixture
def project(prepared_project: Project, tmp_path: Path) -> Project:
    """A private copy (workspace, git history, cache and remote) for one test."""
    root, remote = tmp_path / "project", tmp_path / "remote"
    shutil.copytree(prepared_project.root, root, symlinks=True)
    shutil.copytree(prepared_project.remote, remote)
    for path in remote.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    config = root / ".dvc" / "config"
    config.write_text(config.read_text().replace(str(prepared_project.remote), str(remote)))
    return Project(root, remote)
