"""The Docker Engine the job containers run on.

The engine at `DOCKER_HOST` (or the default socket) when it answers; else a
private `dockerd` of this test session on a socket of its own, without a
bridge or iptables rules (the jobs use the host network), stopped by its PID
at the end. Every call reaches the engine through `Engine.env`, never through
this process's environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.harness.runner_image import Engine
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
def private_dockerd() -> Iterator[Engine]:
    # A short folder: the engine's sockets must fit in a unix socket path.
    root = Path(tempfile.mkdtemp(prefix="msdockerd-", dir="/tmp"))
    env = {"DOCKER_HOST": f"unix://{root / 'docker.sock'}"}
    argv = [
        "dockerd",
        "--host",
        env["DOCKER_HOST"],
        "--data-root",
        str(root / "data"),
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
