"""The local target: a real MLflow scoring server, the same smoke test, pid file or stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from modelship.deploy import local as serving
from tests.deploy.conftest import ScoringServer, run_deploy


def test_local_deploy_keeps_the_server_running_with_a_pid_file(
    scoring_server: ScoringServer,
) -> None:
    run = scoring_server.run
    assert run.outputs["status"] == "succeeded"
    assert run.outputs["rolled-back"] == "false"
    assert run.outputs["endpoint"].startswith("http://127.0.0.1:")
    # The stage has returned, and the server still answers.
    answer = requests.post(
        run.outputs["endpoint"] + "/invocations",
        json={"dataframe_records": [{"a": 15.0, "b": 4.0}]},
        timeout=10,
    )
    assert answer.json() == {"predictions": [1]}
    pid_file = run.workspace / ".modelship" / "serve.pid"
    assert int(pid_file.read_text().split()[0]) == scoring_server.pid
    report = run.report()
    assert "smoke test: passed" in report
    assert "/ping answered after" in report


def test_local_deploy_with_a_rejected_payload_fails_and_stops_the_server(
    model_dir: Path, tmp_path: Path
) -> None:
    # A server an earlier keep-running deploy left behind (a stand-in process).
    earlier = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "mlflow", "serve"],
        start_new_session=True,
    )
    # Until the child has exec'd, /proc shows the parent's command line.
    cmdline = Path(f"/proc/{earlier.pid}/cmdline")
    deadline = time.monotonic() + 10
    while b"serve" not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    (tmp_path / ".modelship").mkdir()
    (tmp_path / ".modelship" / "serve.pid").write_text(f"{earlier.pid}\n1\n")
    port = serving.free_port()
    run = run_deploy(
        tmp_path,
        [
            "--target",
            "local",
            "--model-uri",
            str(model_dir),
            "--port",
            str(port),
            "--smoke-payload",
            '[{"x": 1}]',
            "--timeout",
            "5m",
        ],
    )
    assert run.code == 1, run.stderr
    assert run.outputs["status"] == "failed"
    # The model's own reason reaches the user.
    assert "missing inputs" in run.stderr
    assert "HTTP 400" in run.stderr
    # Stopped: nothing listens on the port any more, and no pid file is left.
    assert not serving.port_in_use(port)
    assert not (tmp_path / ".modelship" / "serve.pid").exists()
    # The earlier server was replaced: stopped before the new one started.
    assert earlier.wait(timeout=5) is not None
    assert f"stopped the scoring server a previous deploy left running (pid {earlier.pid})" in (
        run.report()
    )


def test_local_deploy_refuses_a_port_in_use(
    scoring_server: ScoringServer, model_dir: Path, tmp_path: Path
) -> None:
    port = scoring_server.endpoint.rsplit(":", 1)[1]
    run = run_deploy(tmp_path, ["--target", "local", "--model-uri", str(model_dir), "--port", port])
    assert run.code == 2
    assert f"port {port}" in run.stderr


def test_local_deploy_needs_a_model_uri(tmp_path: Path) -> None:
    run = run_deploy(tmp_path, ["--target", "local"])
    assert run.code == 2
    assert "model-uri" in run.stderr


def test_stop_previous_ignores_a_pid_file_naming_another_program(tmp_path: Path) -> None:
    pid_file = tmp_path / "serve.pid"
    pid_file.write_text(f"{os.getpid()}\n1234\n")
    assert serving.stop_previous(pid_file) is None
    assert not pid_file.exists()  # stale file removed, our own process untouched
