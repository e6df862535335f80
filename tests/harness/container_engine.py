"""The Docker Engine the job containers run on.

The engine at `DOCKER_HOST` (or the default socket) when it answers; else a
private `dockerd` of this test session on a socket of its own, without a
bridge or iptables rules (the jobs use the host network), stopped by its PID
at the end. Its data root is kept in the test cache, so the job image built
on it is there for the next session (a session that finds it in use takes a
temporary one). Every call reaches the engine through `Engine.env`, never
through this process's environment.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.harness.runner_image import Engine, cache_dir
from tests.harness.servers import ServerFailed, ServerProcess


def engine_answers(env: Mapping[str, str]) -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        env={**os.environ, **env},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0


@contextmanager
def _data_root(temporary: Path) -> Iterator[Path]:
    """The cached data root, held with a lock; a temporary one when it is in use."""
    cached = cache_dir() / "dockerd-data"
    cached.mkdir(parents=True, exist_ok=True)
    with (cache_dir() / "dockerd-data.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield temporary
            return
        try:
            yield cached
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def private_dockerd() -> Iterator[Engine]:
    # A short folder: the engine's sockets must fit in a unix socket path.
    root = Path(tempfile.mkdtemp(prefix="msdockerd-", dir="/tmp"))
    with _data_root(root / "data") as data_root:
        yield from _run_dockerd(root, data_root)


def _run_dockerd(root: Path, data_root: Path) -> Iterator[Engine]:
    env = {"DOCKER_HOST": f"unix://{root / 'docker.sock'}"}
    argv = [
        "dockerd",
        "--host",
        env["DOCKER_HOST"],
        "--data-root",
        str(data_root),
        "--exec-root",
        str(root / "exec"),
        "--pidfile",
        str(root / "docker.pid"),
        "--storage-driver=overlay2",
        "--bridge=none",
        "--iptables=false",
    ]
    try:
        with ServerProcess(argv, root / "dockerd.log") as dockerd:
            try:
                dockerd.wait_until(lambda: engine_answers(env), timeout=60, what="answer")
            except ServerFailed as failed:
                pytest.fail(f"a private dockerd did not start: {failed}")
            yield Engine(env)
    finally:
        # dockerd leaves its network namespace mounted under the exec root.
        netns = root / "exec" / "netns" / "default"
        if netns.exists():
            subprocess.run(["umount", str(netns)], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def job_engine() -> Iterator[Engine]:
    """A Docker Engine for job containers, or a clear failure saying what is missing."""
    given = {"DOCKER_HOST": os.environ["DOCKER_HOST"]} if os.environ.get("DOCKER_HOST") else {}
    if engine_answers(given):
        yield Engine(given)
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.fail("no Docker Engine answers and none can be started: run `make dev` (docker.io)")
    with private_dockerd() as engine:
        yield engine
