"""batch/v1 Jobs as the train stage's Kubernetes backend sees them: outcomes, conditions, logs."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.fakes.kube_server import KubeServer


def job(name: str = "train", image: str = "registry.local/train:1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "train", "image": image, "command": ["python"]}],
                }
            },
            **spec,
        },
    }


def wait_finished(k8s: Any, name: str, timeout: int = 10) -> Any:
    from kubernetes import watch

    w = watch.Watch()
    for event in w.stream(
        k8s.batch.list_namespaced_job,
        "default",
        field_selector=f"metadata.name={name}",
        timeout_seconds=timeout,
    ):
        conds = {c.type: c for c in event["object"].status.conditions or []}
        for final in ("Complete", "Failed"):
            if final in conds and conds[final].status == "True":
                w.stop()
                return event["object"], conds
    raise AssertionError(f"job {name} did not finish in {timeout}s")


def test_job_succeeds_and_its_logs_stream(k8s: Any, kube: KubeServer) -> None:
    lines = [f"epoch {i} loss {1 / (i + 1):.3f}" for i in range(5)]
    kube.set_job_outcome("succeed", job="train", logs=lines, duration=0.6)
    created = k8s.batch.create_namespaced_job("default", job())
    assert created.spec.backoff_limit == 6
    assert created.spec.completions == 1
    labels = created.spec.template.metadata.labels
    assert labels["batch.kubernetes.io/job-name"] == "train"
    assert created.spec.selector.match_labels == {
        "batch.kubernetes.io/controller-uid": created.metadata.uid
    }

    pod_name = kube.wait_for(
        lambda: next(
            (
                p.metadata.name
                for p in k8s.core.list_namespaced_pod(
                    "default", label_selector="job-name=train"
                ).items
                if p.status.phase == "Running"
            ),
            None,
        ),
        what="the job's pod to run",
    )
    resp = k8s.core.read_namespaced_pod_log(
        pod_name, "default", follow=True, _preload_content=False
    )
    streamed = []
    started = time.monotonic()
    for chunk in resp.stream():
        streamed.append((time.monotonic() - started, chunk.decode()))
    text = "".join(c for _, c in streamed)
    assert text.splitlines() == lines
    assert len(streamed) > 1  # lines arrive while the pod runs, not all at the end

    done, conds = wait_finished(k8s, "train")
    assert conds["Complete"].reason == "CompletionsReached"
    assert "SuccessCriteriaMet" in conds
    assert done.status.succeeded == 1
    assert done.status.completion_time is not None
    pod = k8s.core.read_namespaced_pod(pod_name, "default")
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 0
    assert (
        k8s.core.read_namespaced_pod_log(pod_name, "default", tail_lines=2).splitlines()
        == (lines[-2:])
    )


def test_job_fails_after_backoff_limit(k8s: Any, kube: KubeServer) -> None:
    kube.set_job_outcome("fail", image="registry.local/train:bad", logs=["boom"], exit_code=3)
    k8s.batch.create_namespaced_job(
        "default", job(image="registry.local/train:bad", backoffLimit=1)
    )
    done, conds = wait_finished(k8s, "train")
    assert conds["Failed"].reason == "BackoffLimitExceeded"
    assert conds["Failed"].message == "Job has reached the specified backoff limit"
    assert "FailureTarget" in conds
    assert "Complete" not in conds
    assert done.status.failed == 2
    pods = k8s.core.list_namespaced_pod("default", label_selector="job-name=train").items
    assert len(pods) == 2
    assert {p.status.container_statuses[0].state.terminated.exit_code for p in pods} == {3}
    events = {e.reason for e in k8s.core.list_namespaced_event("default").items}
    assert "BackoffLimitExceeded" in events


def test_unschedulable_job_hits_its_deadline(k8s: Any, kube: KubeServer) -> None:
    kube.set_job_outcome("unschedulable", job="train")
    started = time.monotonic()
    k8s.batch.create_namespaced_job("default", job(activeDeadlineSeconds=1))
    _, conds = wait_finished(k8s, "train")
    assert 0.9 < time.monotonic() - started < 5
    assert conds["Failed"].reason == "DeadlineExceeded"
    reasons = {e.reason for e in k8s.core.list_namespaced_event("default").items}
    assert "FailedScheduling" in reasons


def test_logs_of_a_pending_pod_are_refused(k8s: Any, kube: KubeServer) -> None:
    from kubernetes import client

    kube.set_job_outcome("unschedulable", job="train")
    k8s.batch.create_namespaced_job("default", job())
    pod = kube.wait_for(lambda: kube.list("pods"), what="the job's pod")[0]
    with pytest.raises(client.ApiException) as refused:
        k8s.core.read_namespaced_pod_log(pod["metadata"]["name"], "default")
    assert refused.value.status == 400
    assert "is waiting to start" in refused.value.body


def test_deleting_a_job_orphans_pods_unless_propagation_is_given(
    k8s: Any, kube: KubeServer
) -> None:
    kube.set_job_outcome("hang", job="train")
    k8s.batch.create_namespaced_job("default", job())
    kube.wait_for(lambda: kube.list("pods"), what="the job's pod")
    k8s.batch.delete_namespaced_job("train", "default")  # batch/v1 default: orphan
    time.sleep(0.3)
    pods = kube.list("pods")
    assert len(pods) == 1
    assert not pods[0]["metadata"].get("ownerReferences")

    k8s.batch.create_namespaced_job("default", job(name="train2"))
    kube.set_job_outcome("hang", job="train2")
    kube.wait_for(lambda: len(kube.list("pods")) == 2, what="the second job's pod")
    k8s.batch.delete_namespaced_job("train2", "default", propagation_policy="Background")
    kube.wait_for(lambda: len(kube.list("pods")) == 1, what="the owned pod to be collected")


def test_follow_ends_when_the_pod_is_deleted(k8s: Any, kube: KubeServer) -> None:
    kube.set_job_outcome("hang", job="train", logs=["starting"])
    k8s.batch.create_namespaced_job("default", job())
    pod = kube.wait_for(
        lambda: [p for p in kube.list("pods") if p["status"].get("phase") == "Running"],
        what="a running pod",
    )[0]["metadata"]["name"]
    received: list[str] = []

    def follow() -> None:
        resp = k8s.core.read_namespaced_pod_log(pod, "default", follow=True, _preload_content=False)
        received.extend(chunk.decode() for chunk in resp.stream())

    reader = threading.Thread(target=follow)
    reader.start()
    kube.wait_for(lambda: received, what="the stream to deliver the first line")
    k8s.batch.delete_namespaced_job("train", "default", propagation_policy="Foreground")
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert "".join(received) == "starting\n"


def test_finished_job_is_removed_after_its_ttl(k8s: Any, kube: KubeServer) -> None:
    kube.set_job_outcome("succeed", job="train", duration=0.1)
    k8s.batch.create_namespaced_job("default", job(ttlSecondsAfterFinished=1))
    wait_finished(k8s, "train")
    assert kube.get("jobs", "train") is not None
    kube.wait_for(lambda: kube.get("jobs", "train") is None, timeout=5, what="TTL deletion")
    kube.wait_for(lambda: not kube.list("pods"), timeout=5, what="its pods to be collected")


def test_log_lines_through_the_clients_watch_helper(k8s: Any, kube: KubeServer) -> None:
    from kubernetes import watch

    kube.set_job_outcome("succeed", job="train", logs=["a", "b", "c"], duration=0.3)
    k8s.batch.create_namespaced_job("default", job())
    pod = kube.wait_for(
        lambda: [p for p in kube.list("pods") if p["status"].get("phase") == "Running"],
        what="a running pod",
    )[0]["metadata"]["name"]
    lines = list(watch.Watch().stream(k8s.core.read_namespaced_pod_log, name=pod,
                                      namespace="default"))  # fmt: skip
    assert lines == ["a", "b", "c"]
