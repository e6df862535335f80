"""Run a user's workflow with real `act` or a user's pipeline with real `gitlab-ci-local`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.harness.tools import act_binary, gitlab_ci_local_binary


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str

    def check(self) -> Run:
        if self.returncode != 0:
            raise AssertionError(f"run failed with {self.returncode}:\n{self.output[-12000:]}")
        return self


@dataclass(frozen=True)
class JobContainers:
    """Each job in a container of its own, on `image`, instead of on the host.

    `engine_env` reaches the Docker Engine (DOCKER_HOST). `mounts` are host
    folders the jobs see at the same path: what stands for a shared service
    (a DVC remote on a file system, a reports folder), never the workspace.
    `cache` is uv's download cache, shared as CI caches are. The jobs use the
    host network, so the MLflow server on the loopback is reachable.
    """

    image: str
    engine_env: Mapping[str, str] = field(default_factory=dict)
    mounts: Sequence[Path] = ()
    cache: Path | None = None
    # Folders in the job where environments are built, kept in memory: act
    # allows a job's container one minute to be removed, and deleting tens of
    # thousands of files from a disk that five test runs share took longer.
    scratch: Sequence[str] = ()

    def volumes(self) -> list[str]:
        volumes = [f"{path}:{path}" for path in self.mounts]
        if self.cache is not None:
            volumes.append(f"{self.cache}:{self.cache}")
        return volumes

    def job_env(self) -> dict[str, str]:
        if self.cache is None:
            return {}
        # Symlinks into the shared cache, not copies: a job's environment
        # (MLflow, DVC, scikit-learn: about 1 GB) would otherwise be written
        # into, and deleted with, every job's container.
        return {"UV_CACHE_DIR": str(self.cache), "UV_LINK_MODE": "symlink"}


def uv_cache() -> Path:
    """The machine's uv download cache (shared by host and container jobs)."""
    if os.environ.get("UV_CACHE_DIR"):
        return Path(os.environ["UV_CACHE_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")))
    return cache / "uv"


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
    containers: JobContainers | None = None,
) -> Run:
    """`act` with modelship@v1 from `checkout`: on the host (self-hosted
    platform, the fast path) or, with `containers`, each job in its own container.

    On the host, `PROJECT_PYTHON_BIN` is the folder of the test environment's
    Python: a step that needs the project's Python (pytest, scikit-learn)
    puts it on `$GITHUB_PATH`, as `actions/setup-python` would; the machine's
    own python3 need not have them."""
    argv = [act_binary(), event, "--local-repository", f"modelship/modelship@v1={checkout}"]
    if containers is None:
        argv += ["-P", "ubuntu-latest=-self-hosted"]
        argv += ["--env", f"PROJECT_PYTHON_BIN={Path(sys.executable).parent}"]
    else:
        argv += _act_container_args(containers)
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
    engine_env = dict(containers.engine_env) if containers is not None else {}
    if containers is not None:
        remove_act_containers(containers)  # left by an interrupted run: never reused
    try:
        done = subprocess.run(
            argv,
            cwd=project,
            env=_clean_env({**engine_env, **secret_env}),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        if containers is not None:
            remove_act_containers(containers)
    return Run(done.returncode, done.stdout + done.stderr)


def remove_act_containers(containers: JobContainers) -> None:
    """Remove the job containers act left on the job image, and their volumes.

    act gives itself one minute to remove a finished job's container and fails
    the run when that runs out; on a disk that several test runs share,
    removing a container that held a Python environment took longer. So act
    keeps them (`--reuse`) and they are removed here, without that limit.
    With `--reuse` act also keeps each job's named volumes (the workspace and
    `<name>-env`), named after the workflow and the job: the same job of a
    later run would mount them again and start in an earlier run's workspace
    (a build job once found the last run's image context there).
    """
    env = {**os.environ, **containers.engine_env}
    filters = ["--filter", "name=^act-", "--filter", f"ancestor={containers.image}"]
    listed = _docker(env, "ps", "-aq", *filters).split()
    volumes = (
        set(_docker(env, "inspect", "--format", _VOLUME_NAMES, *listed).split())
        if listed
        else set()
    )
    if listed:
        _docker(env, "rm", "--force", *listed, timeout=900)
    # Volumes an interrupted run left behind, used by no container now.
    dangling = _docker(
        env, "volume", "ls", "-q", "--filter", "dangling=true", "--filter", "name=^act-"
    )
    volumes |= set(dangling.split())
    volumes.discard("act-toolcache")  # shared by every run: tools, never a workspace
    if volumes:
        _docker(env, "volume", "rm", "--force", *sorted(volumes), timeout=900)


_VOLUME_NAMES = '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}'


def _docker(env: Mapping[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["docker", *args], env=env, capture_output=True, text=True, timeout=timeout, check=True
    )
    return done.stdout


def _act_container_args(containers: JobContainers) -> list[str]:
    """The image is built locally (no registry to pull from). The job
    containers stay when their job ends (`--reuse`) and `run_act` removes them
    after the run, and before it: no job ever starts in a container that an
    earlier one used."""
    options = " ".join(
        [f"--volume={volume}" for volume in containers.volumes()]
        + [f"--tmpfs={folder}:exec" for folder in containers.scratch]
    )
    argv = ["-P", f"ubuntu-latest={containers.image}", "--pull=false", "--reuse"]
    argv += ["--network", "host", "--container-options", options]
    for key, value in containers.job_env().items():
        argv += ["--env", f"{key}={value}"]
    return argv


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
    containers: JobContainers | None = None,
) -> Run:
    """`gitlab-ci-local` with the shell executor (the fast path) or, with
    `containers`, the docker executor: each job in a container of the job
    image its `image:` names (`use_job_image`).

    `python_bin` (shell executor) is the folder whose `python3` the jobs use
    (a virtualenv), so `pip install` in the templates never touches the
    machine's Python.
    """
    if containers is None:
        argv = [gitlab_ci_local_binary(), "--force-shell-executor", *jobs]
        job_variables = {**private_home(project), **(variables or {})}
        bin_dir = python_bin or Path(sys.executable).parent
        extra = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    else:
        argv = [gitlab_ci_local_binary(), *_gitlab_container_args(containers), *jobs]
        job_variables = {**containers.job_env(), **(variables or {})}
        extra = dict(containers.engine_env)
    for key, value in job_variables.items():
        argv += ["--variable", f"{key}={value}"]
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


def _gitlab_container_args(containers: JobContainers) -> list[str]:
    """The job image doubles as the helper image that copies the project into
    the job's volume and the artifacts out (it has bash and rsync): the
    default helper comes from Docker Hub, which is out of reach here."""
    argv = ["--pull-policy", "if-not-present", "--helper-image", containers.image]
    argv += ["--network", "host"]
    for volume in containers.volumes():
        argv += ["--volume", volume]
    return argv


def use_job_image(ci_file: Path, image: str) -> None:
    """Every template included by `ci_file` runs its job on `image`.

    The job's image is the template's `image` input, or `job-image` in the
    templates whose `image` is the model's (train, build, deploy)."""
    text = ci_file.read_text(encoding="utf-8")

    def with_image(match: re.Match[str]) -> str:
        source = (ci_file.parent / match.group(2)).read_text(encoding="utf-8")
        inputs = next(yaml.safe_load_all(source))["spec"]["inputs"]
        name = "job-image" if "job-image" in inputs else "image"
        return f"{match.group(1)}      {name}: {image}\n"

    text = re.sub(r"(?m)^(  - local: (gitlab-templates/\S+)\n    inputs:\n)", with_image, text)
    ci_file.write_text(text, encoding="utf-8")
