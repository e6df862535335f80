"""A Docker Engine for the demo and the tests: the one that answers, else one started here.

The engine at `DOCKER_HOST` (or the default socket) is used when it answers a
ping. Where none does and `dockerd` can run (installed, as root), one is
started with its own socket, exec root and pidfile in a temporary folder and
its data root where the caller keeps its cache, and stopped by its PID at
the end: nothing is left running. It keeps Docker's default bridge and
iptables rules (builds reach the package index and containers publish ports
through them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Engine:
    host: str
    client: Any
    started_here: bool

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}


def answering_client(host: str) -> Any | None:
    """A client of the engine at `host`, or None when it does not answer a ping."""
    import docker

    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return None
    try:
        client = docker.DockerClient(base_url=host, timeout=10)
        client.ping()
    except Exception:  # any failure to connect means "no engine there"
        return None
    # Builds, pulls and imports take minutes; the ping used a short timeout.
    client.api.timeout = 900
    return client


def configured_host(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_HOST") or DEFAULT_HOST


def can_start() -> bool:
    return shutil.which("dockerd") is not None and os.geteuid() == 0


def _start(root: Path, data_root: Path) -> tuple[subprocess.Popen[bytes], str]:
    host = f"unix://{root / 'docker.sock'}"
    with (root / "dockerd.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                "dockerd",
                "--storage-driver=overlay2",
                f"--data-root={data_root}",
                f"--exec-root={root / 'exec'}",
                f"--pidfile={root / 'docker.pid'}",
                f"--host={host}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, host


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def own_engine(data_root: Path, timeout: float = 60) -> Iterator[Engine]:
    """A `dockerd` of our own for the duration of the block, stopped by its PID after."""
    # A short path: the socket's path must fit in a sockaddr_un.
    root = Path(tempfile.mkdtemp(prefix="ms-dockerd-", dir="/tmp"))
    data_root.mkdir(parents=True, exist_ok=True)
    proc, host = _start(root, data_root)
    try:
        deadline = time.monotonic() + timeout
        while (client := answering_client(host)) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (root / "dockerd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"dockerd did not start: {log}")
            time.sleep(0.3)
        try:
            yield Engine(host, client, started_here=True)
        finally:
            client.close()
    finally:
        _stop(proc)
        # dockerd leaves its network namespace mounted under the exec root.
        netns = root / "exec" / "netns" / "default"
        if netns.exists():
            subprocess.run(["umount", str(netns)], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
