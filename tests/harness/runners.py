"""Run a user's workflow with real `act` or a user's pipeline with real `gitlab-ci-local`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.harness.tools import act_binary, gitlab_ci_local_binary


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str

    def check(self) -> Run:
        if self.returncode != 0:
            raise AssertionError(f"run failed with {self.returncode}:\n{self.output[-12000:]}")
        return self


def _clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment minus anything that would make the
    runner think it is already inside a CI job."""
    drop_prefixes = ("GITHUB_", "GITLAB_", "CI_", "INPUT_", "MODELSHIP_", "RUNNER_", "MLFLOW_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    env.pop("CI", None)
    env.pop("VIRTUAL_ENV", None)
    env.update(extra or {})
    return env


def run_act(
    project: Path,
    checkout: Path,
    event: str = "push",
    payload: Mapping[str, object] | None = None,
    workflow: str | None = None,
    job: str | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    venv: Path | None = None,
    timeout: float = 900,
    variables: Mapping[str, str] | None = None,
) -> Run:
    """`act` as the issue prescribes: self-hosted platform, modelship@v1 from `checkout`."""
    argv = [
        act_binary(),
        event,
        "-P",
        "ubuntu-latest=-self-hosted",
        "--local-repository",
        f"modelship/modelship@v1={checkout}",
    ]
    if workflow:
        argv += ["-W", workflow]
    if job:
        argv += ["-j", job]
    if payload is not None:
        event_file = project.parent / f"{project.name}-event.json"
        event_file.write_text(json.dumps(payload), encoding="utf-8")
        argv += ["-e", str(event_file)]
    for key, value in (env or {}).items():
        argv += ["--env", f"{key}={value}"]
    for key, value in (variables or {}).items():
        argv += ["--var", f"{key}={value}"]  # the `vars` context (repository variables)
    if venv is not None:
        # One environment for every job of the test session: installed by the
        # first job through the same script a real runner uses, reused after.
        argv += ["--env", f"MODELSHIP_VENV={venv}"]
    secret_env = {}
    for key in secrets or {}:
        argv += ["-s", key]  # value read from the environment, not the command line
        secret_env[key] = (secrets or {})[key]
    done = subprocess.run(
        argv,
        cwd=project,
        env=_clean_env(secret_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout + done.stderr)


def private_home(project: Path) -> dict[str, str]:
    """Job variables that keep shell-executor jobs off the machine's Python.

    The shell executor starts bash, which reads `~/.bashrc`; a pyenv or conda
    set-up there puts its shims before the job's virtualenv on PATH, and a
    template's `pip install` would then change the machine's Python. A private
    HOME has no such file; the download caches stay shared.
    """
    home = project.parent / f"{project.name}-home"
    home.mkdir(parents=True, exist_ok=True)
    cache = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")))
    return {
        "HOME": str(home),
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(cache / "uv")),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(cache / "pip")),
    }


def run_gitlab(
    project: Path,
    jobs: Sequence[str] = (),
    variables: Mapping[str, str] | None = None,
    python_bin: Path | None = None,
    timeout: float = 900,
) -> Run:
    """`gitlab-ci-local` with the shell executor (no container engine here).

    `python_bin` is the folder whose `python3` the jobs use (a virtualenv), so
    `pip install` in the templates never touches the machine's Python.
    """
    argv = [gitlab_ci_local_binary(), "--force-shell-executor", *jobs]
    for key, value in {**private_home(project), **(variables or {})}.items():
        argv += ["--variable", f"{key}={value}"]
    extra: dict[str, str] = {}
    bin_dir = python_bin or Path(sys.executable).parent
    extra["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        argv,
        cwd=project,
        env=_clean_env(extra),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout + done.stderr)
