"""`modelship train --backend kubernetes` against the Kubernetes API test server and a
real MLflow tracking server: the Job's pod runs a real training process."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from modelship.tracking import lineage
from tests.data_train.conftest import run_cli
from tests.data_train.test_train_stage import get_run, metrics_of, tags_of
from tests.fakes.kube_server import KubeServer
from tests.fixtures.mlflow_server import MlflowServer
from tests.harness.cli import BIN, host_env
from tests.train_kube.conftest import IMAGE, pod_env


def kube_args(kube: KubeServer, server: MlflowServer, *more: str) -> list[str]:
    return [
        "train",
        "--backend",
        "kubernetes",
        "--image",
        IMAGE,
        "--kubeconfig",
        str(kube.kubeconfig),
        "--tracking-uri",
        server.uri,
        "--experiment",
        "tests-train-kube",
        "--command",
        "python train.py",
        *more,
    ]


def run_id_of(stderr: str) -> str:
    return stderr.split("MLflow run ", 1)[1].split(maxsplit=1)[0]


def jobs(kube: KubeServer, namespace: str = "default") -> list[dict[str, Any]]:
    return [j for j in kube.list("jobs") if j["metadata"]["namespace"] == namespace]


def kubectl(kube: KubeServer, *args: str) -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kube.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def report(workspace: Path) -> str:
    return (workspace / "modelship-reports" / "train.md").read_text()


def test_training_in_a_job_gives_the_outputs_of_a_local_run(
    kube: KubeServer, mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    """The pod runs train.py for real: it logs into the run modelship opened, its output
    streams into the CI log while it runs, and every Job setting reaches the cluster."""
    kube.set_job_process(IMAGE, workspace, pod_env(PAUSE="1.0"))
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "cloud", "namespace": "ml-training"},
            "data": {"CLOUD_KEY": base64.b64encode(b"from-the-secret").decode()},
        }
    )
    inline = kube.kubeconfig.read_text()  # content, not a path, as a CI variable holds it
    args = kube_args(kube, mlflow_tracking)
    args[args.index("--kubeconfig") + 1] = inline
    done = run_cli(
        [
            *args,
            "--namespace",
            "ml-training",
            "--resources",
            "nvidia.com/gpu=1\nmemory=2Gi\nrequests.cpu=500m",
            "--node-selector",
            "accelerator=nvidia-l4",
            "--tolerations",
            "nvidia.com/gpu:NoSchedule\ndedicated=ml:NoExecute",
            "--service-account",
            "trainer",
            "--env-from-secret",
            "cloud",
            "--backoff-limit",
            "1",
            "--active-deadline",
            "10m",
        ],
        workspace,
    )
    assert done.code == 0, done.stderr
    out = done.outputs
    run = get_run(mlflow_tracking, out["run-id"])
    assert run["info"]["status"] == "FINISHED"
    assert out["model-uri"].startswith("models:/m-")
    assert json.loads(out["metrics"]) == {"accuracy": 0.75}
    assert metrics_of(run) == {"accuracy": 0.75}
    tags = tags_of(run)
    assert tags[lineage.BRANCH] == "feature/gpu"
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["cloud_key"] == "from-the-secret"  # envFrom reached the process

    # Streamed as it came: the first line was in the log a pause before the last one.
    first = next(t for t, text in done.writes if "epoch 1 loss=0.9" in text)
    last = next(t for t, text in done.writes if "epoch 2 loss=0.4" in text)
    assert last - first >= 0.8

    (job,) = jobs(kube, "ml-training")
    name = job["metadata"]["name"]
    assert name == f"modelship-train-{out['run-id']}"
    assert job["metadata"]["labels"]["modelship.io/run-id"] == out["run-id"]
    assert job["metadata"]["labels"]["modelship.io/git-sha"] == tags[lineage.GIT_SHA]
    assert job["metadata"]["annotations"][lineage.BRANCH] == "feature/gpu"
    spec = job["spec"]
    assert spec["backoffLimit"] == 1
    assert spec["activeDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == IMAGE
    assert container["command"] == ["python", "train.py"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLFLOW_RUN_ID"] == out["run-id"]
    assert env["MLFLOW_TRACKING_URI"] == mlflow_tracking.uri
    assert env["MLFLOW_EXPERIMENT_NAME"] == "tests-train-kube"
    assert set(env) <= {"MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID",
                        "MODELSHIP_PARAMS"}  # fmt: skip
    assert container["resources"] == {
        "requests": {"nvidia.com/gpu": "1", "memory": "2Gi", "cpu": "500m"},
        "limits": {"nvidia.com/gpu": "1", "memory": "2Gi"},
    }
    assert container["envFrom"] == [{"secretRef": {"name": "cloud"}}]
    assert pod["nodeSelector"] == {"accelerator": "nvidia-l4"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute"},
    ]
    assert pod["serviceAccountName"] == "trainer"
    assert pod["restartPolicy"] == "Never"

    # The kubeconfig and its token never show.
    shown = done.stdout + done.stderr + report(workspace)
    assert kube.token not in shown
    assert inline not in shown
    assert "certificate-authority-data" not in shown

    if shutil.which("kubectl"):
        assert f"job.batch/{name}" in kubectl(
            kube, "-n", "ml-training", "get", "jobs", "-o", "name"
        )
        logs = kubectl(kube, "-n", "ml-training", "logs", f"job/{name}")
        assert "epoch 1 loss=0.9" in logs
        assert "epoch 2 loss=0.4" in logs


def test_backoff_limit_reached_fails_the_run_with_the_reason_and_last_lines(
    kube: KubeServer, mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    kube.set_job_outcome(
        "fail", image=IMAGE, logs=["loading data", "CUDA error: out of memory"], duration=0.1
    )
    done = run_cli(kube_args(kube, mlflow_tracking, "--backoff-limit", "1"), workspace)
    assert done.code == 1, done.stderr
    assert "BackoffLimitExceeded" in done.stderr
    assert "CUDA error: out of memory" in done.stderr  # streamed
    run_id = done.outputs["run-id"]
    assert get_run(mlflow_tracking, run_id)["info"]["status"] == "FAILED"
    summary = report(workspace)
    assert "BackoffLimitExceeded" in summary
    assert "CUDA error: out of memory" in summary
    (job,) = jobs(kube)
    assert job["status"]["failed"] == 2  # the first try and one retry
    pods = [p for p in kube.list("pods") if p["metadata"]["labels"].get("job-name")]
    assert len(pods) == 2


def test_deadline_exceeded_fails_the_run(
    kube: KubeServer, mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    kube.set_job_outcome("hang", image=IMAGE, logs=["epoch 1", "epoch 2"], duration=0.2)
    started = time.monotonic()
    done = run_cli(kube_args(kube, mlflow_tracking, "--active-deadline", "2s"), workspace)
    assert done.code == 1, done.stderr
    assert time.monotonic() - started < 30
    assert "DeadlineExceeded" in done.stderr
    assert get_run(mlflow_tracking, done.outputs["run-id"])["info"]["status"] == "FAILED"
    summary = report(workspace)
    assert "DeadlineExceeded" in summary
    assert "epoch 2" in summary
    # The deadline's pod is gone: nothing keeps running.
    kube.wait_for(
        lambda: not [p for p in kube.list("pods") if p["metadata"]["labels"].get("job-name")],
        timeout=5,
    )


def test_image_that_cannot_be_pulled_fails_fast_and_deletes_the_job(
    kube: KubeServer, mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    kube.mark_image_broken(IMAGE)
    started = time.monotonic()
    done = run_cli(kube_args(kube, mlflow_tracking, "--timeout", "120"), workspace)
    assert done.code == 1, done.stderr
    assert time.monotonic() - started < 30  # not the 120 s timeout
    assert "the image cannot be pulled (ImagePullBackOff" in done.stderr
    assert get_run(mlflow_tracking, done.outputs["run-id"])["info"]["status"] == "FAILED"
    assert "ImagePullBackOff" in report(workspace)
    kube.wait_for(lambda: not jobs(kube), timeout=5)


def test_pod_never_scheduled_times_out_with_the_scheduler_message(
    kube: KubeServer, mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    kube.set_job_outcome("unschedulable", image=IMAGE)
    done = run_cli(kube_args(kube, mlflow_tracking, "--timeout", "2"), workspace)
    assert done.code == 1, done.stderr
    assert "did not start within 2s" in done.stderr
    assert "Insufficient cpu" in done.stderr
    assert get_run(mlflow_tracking, done.outputs["run-id"])["info"]["status"] == "FAILED"
    assert "Insufficient cpu" in report(workspace)
    kube.wait_for(lambda: not jobs(kube), timeout=5)


def test_cancelled_ci_job_deletes_the_kubernetes_job(
    kube: KubeServer, mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    kube.set_job_outcome("hang", image=IMAGE, logs=["epoch 1"], duration=0.1)
    proc = subprocess.Popen(
        [str(BIN / "modelship"), *kube_args(kube, mlflow_tracking)],
        cwd=workspace,
        env=host_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def running() -> bool:
            assert proc.poll() is None, proc.communicate()
            return any(
                p["status"].get("phase") == "Running"
                for p in kube.list("pods")
                if p["metadata"]["labels"].get("job-name")
            )

        kube.wait_for(running, timeout=60)
        assert len(jobs(kube)) == 1
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert not jobs(kube)
    kube.wait_for(
        lambda: not [p for p in kube.list("pods") if p["metadata"]["labels"].get("job-name")],
        timeout=5,
    )
    assert get_run(mlflow_tracking, run_id_of(stderr))["info"]["status"] == "KILLED"
    assert kube.token not in stderr


@pytest.mark.parametrize(
    ("more", "message"),
    [
        (("--image", ""), "input 'image' is required with backend kubernetes"),
        (("--tracking-uri", "sqlite:///mlruns.db"), "the Job's pod cannot reach it"),
        (("--metrics-file", "metrics.json"), "cannot be used with backend kubernetes"),
        (("--resources", "memory=lots"), "is not a Kubernetes quantity"),
        (("--tolerations", "gpu:Sometimes"), "unknown effect 'Sometimes'"),
    ],
)
def test_bad_kubernetes_inputs_exit_2_before_any_run_or_job(
    kube: KubeServer,
    mlflow_tracking: MlflowServer,
    workspace: Path,
    more: tuple[str, str],
    message: str,
) -> None:
    args = kube_args(kube, mlflow_tracking)
    for flag, value in zip(more[::2], more[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    done = run_cli(args, workspace)
    assert done.code == 2, done.stderr
    assert message in done.stderr
    assert "MLflow run " not in done.stderr
    assert not jobs(kube)


def documented_role() -> dict[str, Any]:
    import yaml

    text = (Path(__file__).resolve().parents[2] / "docs" / "training-at-scale.md").read_text()
    block = text.split("## The Role the Job needs", 1)[1].split("```yaml", 1)[1].split("```")[0]
    role: dict[str, Any] = next(d for d in yaml.safe_load_all(block) if d["kind"] == "Role")
    return role


def test_the_documented_role_is_enough(
    kube: KubeServer, mlflow_tracking: MlflowServer, workspace: Path
) -> None:
    role = documented_role()
    role["metadata"]["namespace"] = "default"
    kube.restrict(role)
    # Create, watch, follow the log: the training logs no model, a gate failure, not a 403.
    kube.set_job_outcome("succeed", image=IMAGE, logs=["trained"], duration=0.1)
    done = run_cli(kube_args(kube, mlflow_tracking), workspace)
    assert done.code == 1, done.stderr
    assert "logged no model" in done.stderr
    assert "trained" in done.stderr
    assert "refused" not in done.stderr
    # Delete (a stuck image pull deletes the Job).
    kube.mark_image_broken("registry.local/other:1")
    args = kube_args(kube, mlflow_tracking)
    args[args.index("--image") + 1] = "registry.local/other:1"
    done = run_cli(args, workspace)
    assert done.code == 1, done.stderr
    assert "cannot be pulled" in done.stderr
    assert "deleted Job" in done.stderr
    # Without the Role's pods/log rule the stage says which permission is missing.
    role["rules"] = [r for r in role["rules"] if r["resources"] != ["pods/log"]]
    kube.restrict(role)
    done = run_cli(kube_args(kube, mlflow_tracking, "--timeout", "20"), workspace)
    assert done.code == 1
    assert "cannot follow the log of pod" in done.stderr
    assert "the Role needs get on pods/log" in done.stderr
