"""kubectl against the test server: create, get, describe, apply, rollout, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.kube_server import KubeServer

from .conftest import deployment, service


def _manifest(tmp_path: Path, image: str, name: str = "app.yaml", **spec: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all([deployment(image=image, **spec), service()]))
    return path


def test_create_get_describe_delete(kubectl: Any, kube: KubeServer, tmp_path: Path) -> None:
    out = kubectl("create", "-f", str(_manifest(tmp_path, "registry.local/model:1"))).stdout
    assert "deployment.apps/model created" in out
    assert "service/model created" in out
    kubectl("rollout", "status", "deployment/model", "--timeout=20s")
    table = kubectl("get", "deployments").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:4] == ["model", "2/2", "2", "2"]
    pods = kubectl.json("get", "pods", "-l", "app=model")["items"]
    assert len(pods) == 2
    assert all(p["status"]["phase"] == "Running" for p in pods)
    described = kubectl("describe", "deployment", "model").stdout
    assert "Replicas:               2 desired | 2 updated | 2 total | 2 available" in described
    assert "NewReplicaSetAvailable" in described
    assert "ScalingReplicaSet" in described
    pod_text = kubectl("describe", "pod", pods[0]["metadata"]["name"]).stdout
    assert "Status:           Running" in pod_text
    assert "Successfully assigned" in pod_text
    svc_text = kubectl("describe", "service", "model").stdout
    assert any(line.split() == ["Selector:", "app=model"] for line in svc_text.splitlines())
    endpoints = next(line for line in svc_text.splitlines() if line.startswith("Endpoints:"))
    assert endpoints.count(":8080") == 2  # both ready pods, from the endpoints controller
    assert kube.token not in out + described + pod_text + svc_text

    out = kubectl("delete", "-f", str(tmp_path / "app.yaml"), "--wait=true").stdout
    assert 'deployment.apps "model" deleted' in out
    kube.wait_for(lambda: not kube.list("pods"), what="pods of the deleted deployment to go")
    missing = kubectl("get", "deployment", "model", check=False)
    assert missing.returncode == 1
    assert 'deployments.apps "model" not found' in missing.stderr


def test_client_side_apply_rollout_history_and_undo(
    kubectl: Any, kube: KubeServer, tmp_path: Path
) -> None:
    kubectl("apply", "-f", str(_manifest(tmp_path, "registry.local/model:1")))
    kubectl("rollout", "status", "deployment/model", "--timeout=20s")
    out = kubectl("apply", "-f", str(_manifest(tmp_path, "registry.local/model:2"))).stdout
    assert "deployment.apps/model configured" in out
    assert "service/model unchanged" in out
    status = kubectl("rollout", "status", "deployment/model", "--timeout=20s").stdout
    assert 'deployment "model" successfully rolled out' in status
    history = kubectl("rollout", "history", "deployment/model").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    rev1 = kubectl("rollout", "history", "deployment/model", "--revision=1").stdout
    assert "registry.local/model:1" in rev1

    assert "rolled back" in kubectl("rollout", "undo", "deployment/model").stdout
    kubectl("rollout", "status", "deployment/model", "--timeout=20s")
    dep = kubectl.json("get", "deployment", "model")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/model:1"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = kubectl("rollout", "history", "deployment/model").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]
    replicasets = kubectl.json("get", "replicasets")["items"]
    assert sorted(rs["spec"]["replicas"] for rs in replicasets) == [0, 2]  # reused, not new


def test_server_side_apply_and_conflicts(kubectl: Any, tmp_path: Path) -> None:
    path = _manifest(tmp_path, "registry.local/model:1")
    out = kubectl("apply", "--server-side", "-f", str(path)).stdout
    assert "deployment.apps/model serverside-applied" in out
    dep = kubectl.json("get", "deployment", "model", "--show-managed-fields")
    managers = {(m["manager"], m["operation"]) for m in dep["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    kubectl("set", "image", "deployment/model", "model=registry.local/model:hotfix")
    conflict = kubectl(
        "apply",
        "--server-side",
        "-f",
        str(_manifest(tmp_path, "registry.local/model:2")),
        check=False,
    )
    assert conflict.returncode == 1
    assert 'conflict with "kubectl-set"' in conflict.stderr
    assert '.spec.template.spec.containers[name="model"].image' in conflict.stderr
    kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        str(_manifest(tmp_path, "registry.local/model:2")),
    )
    kubectl("rollout", "status", "deployment/model", "--timeout=20s")
    dep = kubectl.json("get", "deployment", "model")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/model:2"


def test_rollout_status_reports_progress_deadline(
    kubectl: Any, kube: KubeServer, tmp_path: Path
) -> None:
    kube.mark_image_broken("registry.local/model:bad")
    kubectl(
        "apply", "-f", str(_manifest(tmp_path, "registry.local/model:1", progressDeadlineSeconds=1))
    )
    kubectl("rollout", "status", "deployment/model", "--timeout=20s")
    kubectl(
        "apply",
        "-f",
        str(_manifest(tmp_path, "registry.local/model:bad", progressDeadlineSeconds=1)),
    )
    failed = kubectl("rollout", "status", "deployment/model", "--timeout=20s", check=False)
    assert failed.returncode == 1
    assert 'deployment "model" exceeded its progress deadline' in failed.stderr
    pods = kubectl("get", "pods").stdout
    assert "ImagePullBackOff" in pods
    kubectl("rollout", "undo", "deployment/model")
    kubectl("rollout", "status", "deployment/model", "--timeout=20s")
    assert "ImagePullBackOff" not in kubectl("get", "pods").stdout


def test_dry_run_server_and_validation_errors(
    kubectl: Any, kube: KubeServer, tmp_path: Path
) -> None:
    path = _manifest(tmp_path, "registry.local/model:1")
    out = kubectl("apply", "--dry-run=server", "-f", str(path)).stdout
    assert "(server dry run)" in out
    assert kube.get("deployments", "model") is None
    bad = deployment()
    bad["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    bad_path = tmp_path / "bad.yaml"
    bad_path.write_text(json.dumps(bad))
    refused = kubectl("apply", "-f", str(bad_path), check=False)
    assert refused.returncode == 1
    assert 'unknown field "spec.template.spec.containers[0].imagePulPolicy"' in refused.stderr


def test_imperative_updates(kubectl: Any, kube: KubeServer, tmp_path: Path) -> None:
    kubectl("apply", "-f", str(_manifest(tmp_path, "registry.local/model:1")))
    kubectl("rollout", "status", "deployment/model", "--timeout=20s")
    assert "scaled" in kubectl("scale", "deployment/model", "--replicas=3").stdout
    assert "restarted" in kubectl("rollout", "restart", "deployment/model").stdout
    kubectl("rollout", "status", "deployment/model", "--timeout=20s")
    dep = kubectl.json("get", "deployment", "model")
    assert dep["status"]["availableReplicas"] == 3
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]
    kubectl("label", "deployment/model", "team=ml")
    kubectl(
        "patch",
        "deployment/model",
        "--type=json",
        "-p",
        '[{"op": "replace", "path": "/spec/replicas", "value": 1}]',
    )
    kubectl("wait", "--for=condition=Available", "deployment/model", "--timeout=20s")
    dep = kubectl.json("get", "deployment", "model")
    assert dep["metadata"]["labels"]["team"] == "ml"
    assert dep["spec"]["replicas"] == 1
    kube.wait_for(lambda: len(kube.list("pods")) == 1, what="scale down to one pod")
    events = kubectl("get", "events").stdout.splitlines()
    assert events[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]


def test_job_logs_and_wait(kubectl: Any, kube: KubeServer, tmp_path: Path) -> None:
    kube.set_job_outcome("succeed", job="train", logs=["loading data", "done"], duration=0.5)
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "train", "image": "registry.local/train:1"}],
                }
            }
        },
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(manifest))
    kubectl("apply", "-f", str(path))
    kube.wait_for(
        lambda: any(p["status"].get("phase") == "Running" for p in kube.list("pods")),
        what="the job pod to run",
    )
    logs = kubectl("logs", "-f", "job/train", timeout=20).stdout
    assert logs.splitlines() == ["loading data", "done"]
    kubectl("wait", "--for=condition=Complete", "job/train", "--timeout=20s")
    table = kubectl("get", "jobs").stdout.splitlines()
    assert table[1].split()[:3] == ["train", "Complete", "1/1"]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "data": {"token": "c2VjcmV0"},
    }
    kube.create(secret)
    got = kubectl.json("get", "secret", "creds")
    assert got["type"] == "Opaque"
    assert got["data"] == {"token": "c2VjcmV0"}


def test_imperative_create_sends_protobuf_and_works(kubectl: Any, kube: KubeServer) -> None:
    kubectl(
        "create",
        "deployment",
        "web",
        "--image=registry.local/model:1",
        "--replicas=2",
        "--port=8080",
    )
    kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080")
    kubectl("create", "namespace", "ml")
    kubectl("create", "secret", "generic", "creds", "--from-literal=token=abc", "-n", "ml")
    kubectl("create", "job", "train", "--image=registry.local/train:1")
    assert any(
        r.content_type.startswith("application/vnd.kubernetes.protobuf")
        for r in kube.requests_matching("POST", "/deployments")
    )
    kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    dep = kube.get("deployments", "web")
    assert dep["spec"]["replicas"] == 2
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert "minReadySeconds" not in dep["spec"]  # Go zero values stay omitted
    svc = kube.get("services", "web")
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    secret = kube.get("secrets", "creds", "ml")
    assert secret["data"] == {"token": "YWJj"}
    kubectl("wait", "--for=condition=Complete", "job/train", "--timeout=20s")
    kubectl("delete", "deployment", "web", "--cascade=foreground")
    assert kube.get("deployments", "web") is None


def test_explain_reads_the_served_schemas(kubectl: Any) -> None:
    out = kubectl("explain", "deployment.spec.progressDeadlineSeconds").stdout
    assert "FIELD: progressDeadlineSeconds <integer>" in out
    assert "Defaults to 600s" in out
