"""The local target: MLflow's scoring server for a model URI, on loopback.

`mlflow models serve --env-manager local` runs in its own process group, so
stopping it stops its uvicorn workers too. With `keep-running` it outlives the
deploy and its pid goes to a pid file; the next local deploy with the same pid
file stops it first (a redeploy replaces the server).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelship.ci.errors import ExternalError, UsageError

HOST = "127.0.0.1"


@dataclass(frozen=True)
class LocalServer:
    pid: int
    port: int
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def start(
    model_uri: str,
    port: int | None,
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path,
) -> tuple[LocalServer, subprocess.Popen[bytes]]:
    if port is not None and port_in_use(port):
        raise UsageError(
            f"port {port} on {HOST} is already in use", "pick another `port` or leave it empty"
        )
    chosen = port if port is not None else free_port()
    argv = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "--model-uri",
        model_uri,
        "--host",
        HOST,
        "--port",
        str(chosen),
        "--env-manager",
        "local",
        "--workers",
        "1",
    ]
    child_env = dict(env)
    # The scoring server execs `uvicorn` from PATH: make it the one beside our Python,
    # even when the virtualenv is not activated.
    bin_dir = str(Path(sys.executable).parent)
    child_env["PATH"] = os.pathsep.join([bin_dir, child_env.get("PATH", "")]).rstrip(os.pathsep)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: it outlives us with keep-running, and stop()
            # ends the whole group (the scoring server forks uvicorn).
            start_new_session=True,
        )
    return LocalServer(proc.pid, chosen, log_path), proc


def wait_ready(server: LocalServer, proc: subprocess.Popen[bytes], timeout: float) -> float:
    """Seconds until /ping answered 200. Raises when the server exits or the time runs out."""
    import requests

    started = time.monotonic()
    while True:
        code = proc.poll()
        if code is not None:
            raise ExternalError(
                f"the scoring server exited with code {code} before answering /ping",
                f"see the log above or {server.log_path}",
            )
        try:
            if requests.get(server.endpoint + "/ping", timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        if time.monotonic() - started > timeout:
            stop(server.pid)
            raise ExternalError(
                f"the scoring server did not answer /ping within {timeout:.0f}s",
                "raise `timeout`, or check the log for a model that is slow to load",
            )
        time.sleep(0.25)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def stop(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the server's process group, SIGKILL it after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.1)


def write_pid_file(path: Path, server: LocalServer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{server.pid}\n{server.port}\n", encoding="utf-8")


def stop_previous(path: Path) -> int | None:
    """Stop the server a previous keep-running deploy left, if the pid file names one."""
    try:
        lines = path.read_text(encoding="utf-8").split()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    if not alive(pid) or not _is_scoring_server(pid):
        path.unlink(missing_ok=True)
        return None
    stop(pid)
    path.unlink(missing_ok=True)
    return pid


def _is_scoring_server(pid: int) -> bool:
    """Never signal a pid that was reused by something else."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"mlflow" in b" ".join(cmdline) and b"serve" in cmdline
