"""ServerProcess: what every server fixture relies on."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.harness.servers import ServerFailed, ServerProcess


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_server_that_exits_early_fails_with_the_end_of_its_log(tmp_path: Path) -> None:
    argv = python("print('port already in use', flush=True); raise SystemExit(3)")
    with ServerProcess(argv, tmp_path / "log") as server, pytest.raises(ServerFailed) as failed:
        server.wait_http("http://127.0.0.1:9/", timeout=30)
    assert "exited (3)" in str(failed.value)
    assert "port already in use" in str(failed.value)


def test_a_server_that_never_answers_fails_after_the_timeout(tmp_path: Path) -> None:
    argv = python("import time; print('still starting', flush=True); time.sleep(60)")
    started = time.monotonic()
    with ServerProcess(argv, tmp_path / "log") as server, pytest.raises(ServerFailed) as failed:
        server.wait_log("listening", timeout=1)
    assert time.monotonic() - started < 20
    assert "within 1s" in str(failed.value)


def test_waiting_for_a_log_line_returns_once_it_is_written(tmp_path: Path) -> None:
    argv = python("import time; print('listening on 1234', flush=True); time.sleep(60)")
    with ServerProcess(argv, tmp_path / "log") as server:
        server.wait_log(r"^listening on \d+$", timeout=30)
        assert server.running()
    assert not server.running()


def test_stopping_ends_the_processes_the_server_started(tmp_path: Path) -> None:
    # A server that forks a worker, as `mlflow server` and dockerd do.
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print(f'worker {child.pid}', flush=True)\n"
        "time.sleep(120)\n"
    )
    with ServerProcess(python(code), tmp_path / "log", stop_timeout=10) as server:
        server.wait_log(r"^worker \d+$", timeout=30)
        worker = int(server.log_tail().split()[-1])
        os.kill(worker, 0)  # alive while the server runs
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
