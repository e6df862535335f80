"""Fixtures of the data and train tests: the example project in a temporary git
repository with DVC and a local-directory remote, and the CLI run in-process."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from modelship.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "workflows-examples" / "project"
BIN = Path(sys.executable).parent

# Variables of the machine's own CI or tracking setup that must not leak into a run.
_LEAKY = ("GITHUB_", "GITLAB_", "CI_", "RUNNER_", "MLFLOW_", "INPUT_", "MODELSHIP_", "DVC_")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY) and k != "CI"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.update(extra)
    return env


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    writes: list[tuple[float, str]] = field(default_factory=list)

    @property
    def outputs(self) -> dict[str, str]:
        loaded: dict[str, str] = json.loads(self.stdout.strip().splitlines()[-1])
        return loaded


class _TimedStream(io.StringIO):
    """stderr that remembers when each piece of text arrived (to see streaming)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        import time

        self.writes.append((time.monotonic(), text))
        return super().write(text)


def run_cli(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> CliRun:
    out, err = io.StringIO(), _TimedStream()
    code = main([*argv, "--json"], env=dict(env or clean_env()), cwd=cwd, stdout=out, stderr=err)
    return CliRun(code, out.getvalue(), err.getvalue(), err.writes)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def dvc(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "dvc"), *args], cwd=cwd, capture_output=True, text=True, env=clean_env()
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
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", "mlruns*"))
    git(root, "init", "-q", "-b", "main")
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
