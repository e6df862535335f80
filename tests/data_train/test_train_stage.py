"""The `train` stage against a real MLflow tracking server."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from modelship import __version__
from modelship.tracking import lineage
from tests.data_train.conftest import run_cli
from tests.fixtures.mlflow_server import MlflowServer
from tests.fixtures.net import free_port
from tests.harness.checkout import git
from tests.harness.cli import host_env

ENV_DUMP = """\
import json, os, sys
names = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "MODELSHIP_PARAMS")
with open("seen.json", "w") as handle:
    json.dump({n: os.environ.get(n) for n in names}, handle)
print("training sees run", os.environ["MLFLOW_RUN_ID"], flush=True)
"""


def get_run(server: MlflowServer, run_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{server.uri}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=10
    )
    response.raise_for_status()
    run: dict[str, Any] = response.json()["run"]
    return run


def tags_of(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def metrics_of(run: dict[str, Any]) -> dict[str, float]:
    return {m["key"]: m["value"] for m in run["data"].get("metrics", [])}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q", "-b", "feature/x")
    (root / "README.md").write_text("x\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def script(root: Path, name: str, body: str) -> None:
    (root / name).write_text(textwrap.dedent(body))


def train_args(server: MlflowServer, *more: str) -> list[str]:
    return ["train", "--tracking-uri", server.uri, "--experiment", "tests-train", *more]


def test_command_mode_hands_the_open_run_to_the_training(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    script(workspace, "dump.py", ENV_DUMP)
    done = run_cli(
        train_args(
            mlflow_tracking,
            "--command",
            "python dump.py",
            "--params",
            "train.C=0.5\nmodel=dummy",
            "--data-version",
            "0123abcd0123abcd",
        ),
        workspace,
    )
    # The script logs no model: a clear exit 1, but the run and its id are published.
    assert done.code == 1
    assert "logged no model" in done.stderr
    run_id = done.outputs["run-id"]
    seen = json.loads((workspace / "seen.json").read_text())
    assert seen["MLFLOW_RUN_ID"] == run_id
    assert seen["MLFLOW_TRACKING_URI"] == mlflow_tracking.uri
    assert seen["MLFLOW_EXPERIMENT_NAME"] == "tests-train"
    assert json.loads(seen["MODELSHIP_PARAMS"]) == {"train.C": "0.5", "model": "dummy"}
    assert f"training sees run {run_id}" in done.stderr

    run = get_run(mlflow_tracking, run_id)
    assert run["info"]["experiment_id"] == done.outputs["experiment-id"]
    tags = tags_of(run)
    assert tags[lineage.GIT_SHA] == git(workspace, "rev-parse", "HEAD")
    assert tags[lineage.BRANCH] == "feature/x"
    assert tags[lineage.CI_PLATFORM] == "local"
    assert tags[lineage.DATA_VERSION] == "0123abcd0123abcd"
    assert tags[lineage.VERSION] == __version__
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params == {"train.C": "0.5", "model": "dummy"}
    url = done.outputs["run-url"]
    assert (
        url == f"{mlflow_tracking.uri}/#/experiments/{run['info']['experiment_id']}/runs/{run_id}"
    )


def test_output_streams_while_the_training_runs(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    script(
        workspace,
        "slow.py",
        """\
        import time
        print("epoch 1", flush=True)
        time.sleep(3)
        print("epoch 2", flush=True)
        """,
    )
    done = run_cli(train_args(mlflow_tracking, "--command", "python slow.py"), workspace)
    assert done.code == 1  # no model
    first = next(t for t, text in done.writes if "epoch 1" in text)
    second = next(t for t, text in done.writes if "epoch 2" in text)
    assert second - first > 2.0, "epoch 1 was not shown before the training finished"


def test_failing_training_marks_the_run_failed_with_the_tail_in_the_summary(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    script(
        workspace,
        "boom.py",
        """\
        for number in range(1, 101):
            print(f"line {number:03d}")
        raise SystemExit("out of memory, sort of")
        """,
    )
    done = run_cli(
        train_args(mlflow_tracking, "--command", "python boom.py", "--params", "lr=0.1"),
        workspace,
    )
    assert done.code == 1
    assert "training failed with exit code 1" in done.stderr
    run = get_run(mlflow_tracking, done.outputs["run-id"])
    assert run["info"]["status"] == "FAILED"
    # The parameters it was given are on the failed run too.
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.1"}
    report = (workspace / "modelship-reports" / "train.md").read_text()
    assert "out of memory, sort of" in report
    assert "line 100" in report
    assert "line 001" not in report  # the last lines, not all of them


def test_timed_out_training_is_stopped_and_failed(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    script(workspace, "hang.py", "import time\nprint('started', flush=True)\ntime.sleep(120)\n")
    started = time.monotonic()
    done = run_cli(
        train_args(mlflow_tracking, "--command", "python hang.py", "--timeout", "3"), workspace
    )
    assert time.monotonic() - started < 60
    assert done.code == 1
    assert "timed out after 3s" in done.stderr
    assert get_run(mlflow_tracking, done.outputs["run-id"])["info"]["status"] == "FAILED"


def test_nan_in_the_metrics_file_is_refused_by_name_and_never_logged(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    script(
        workspace,
        "nan.py",
        """\
        with open("metrics.json", "w") as handle:
            handle.write('{"accuracy": 0.91, "val": {"loss": NaN}}')
        """,
    )
    done = run_cli(
        train_args(mlflow_tracking, "--command", "python nan.py", "--metrics-file", "metrics.json"),
        workspace,
    )
    assert done.code == 1
    assert "metric 'val.loss' in metrics.json is NaN" in done.stderr
    run = get_run(mlflow_tracking, done.outputs["run-id"])
    assert run["info"]["status"] == "FAILED"
    assert "val.loss" not in metrics_of(run)
    assert done.outputs["metrics"] == "{}"
    report = (workspace / "modelship-reports" / "train.md").read_text()
    assert "Failed: metric 'val.loss' in metrics.json is NaN" in report


def test_infinity_in_a_yaml_metrics_file_is_refused(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    script(workspace, "inf.py", "open('m.yaml', 'w').write('rmse: .inf\\nmae: 0.3\\n')\n")
    done = run_cli(
        train_args(mlflow_tracking, "--command", "python inf.py", "--metrics-file", "m.yaml"),
        workspace,
    )
    assert done.code == 1
    assert "metric 'rmse' in m.yaml" in done.stderr


def test_no_training_command_is_a_usage_error_before_any_run(workspace: Path) -> None:
    done = run_cli(["train", "--tracking-uri", "http://127.0.0.1:9"], workspace)
    assert done.code == 2
    assert "no training command" in done.stderr
    assert "MLflow run" not in done.stderr


def test_unreachable_tracking_server_exits_3_quickly_without_the_password(
    workspace: Path,
) -> None:
    script(workspace, "dump.py", ENV_DUMP)
    uri = f"http://trainer:s3cr3t-pw@127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = run_cli(["train", "--tracking-uri", uri, "--command", "python dump.py"], workspace)
    assert time.monotonic() - started < 30
    assert done.code == 3
    assert "cannot reach the MLflow tracking server" in done.stderr
    assert "http://***@127.0.0.1" in done.stderr
    assert "s3cr3t-pw" not in done.stderr + done.stdout
    assert not (workspace / "seen.json").exists()


def test_password_from_the_environment_is_masked(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    script(
        workspace, "leak.py", "import os\nprint('pw is', os.environ['MLFLOW_TRACKING_PASSWORD'])\n"
    )
    env = host_env(MLFLOW_TRACKING_USERNAME="u", MLFLOW_TRACKING_PASSWORD="hunter2-long")
    done = run_cli(train_args(mlflow_tracking, "--command", "python leak.py"), workspace, env)
    assert "pw is ***" in done.stderr
    assert "hunter2-long" not in done.stderr


def test_bad_params_line_is_a_usage_error(workspace: Path) -> None:
    done = run_cli(["train", "--command", "python x.py", "--params", "C 0.5"], workspace)
    assert done.code == 2
    assert "expected key=value" in done.stderr


def test_cancelled_job_stops_the_training_and_marks_the_run_killed(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    import os
    import signal
    import subprocess

    from tests.data_train.conftest import BIN

    script(
        workspace,
        "long.py",
        """\
        import os, time
        open("pid", "w").write(str(os.getpid()))
        print("started", flush=True)
        time.sleep(300)
        """,
    )
    proc = subprocess.Popen(
        [str(BIN / "modelship"), *train_args(mlflow_tracking, "--command", "python long.py")],
        cwd=workspace,
        env=host_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = workspace / "pid"
    deadline = time.monotonic() + 120
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the training did not start"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    training = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(training, 0)
    run_id = stderr.split("MLflow run ", 1)[1].split()[0]
    assert get_run(mlflow_tracking, run_id)["info"]["status"] == "KILLED"


def test_missing_training_program_fails_the_run(
    mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    done = run_cli(train_args(mlflow_tracking, "--command", "no-such-trainer --fast"), workspace)
    assert done.code == 2
    assert "command not found: no-such-trainer" in done.stderr
    run_id = done.stderr.split("MLflow run ", 1)[1].split()[0]
    assert get_run(mlflow_tracking, run_id)["info"]["status"] == "FAILED"
