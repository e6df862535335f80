"""Namespaces, deletion propagation, watch edge cases, HPA, field validation, the subprocess."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.fakes.kube_server import KubeServer
from tests.fixtures.kube import kube_server_process

from .conftest import deployment, raw_request, service
from .test_python_client import wait_available


def test_namespaces_create_list_get_and_cascade_delete(k8s: Any, kube: KubeServer) -> None:
    created = k8s.core.create_namespace({"metadata": {"name": "staging"}})
    assert created.status.phase == "Active"
    assert created.metadata.labels["kubernetes.io/metadata.name"] == "staging"
    names = {n.metadata.name for n in k8s.core.list_namespace().items}
    assert {"default", "kube-system", "staging"} <= names
    assert k8s.core.read_namespace("staging").metadata.uid == created.metadata.uid
    k8s.apps.create_namespaced_deployment("staging", deployment(replicas=1))
    wait_available_in(k8s, "staging")
    k8s.core.delete_namespace("staging")
    assert k8s.core.read_namespace("staging").status.phase == "Terminating"
    kube.wait_for(lambda: kube.get("namespaces", "staging", "") is None, what="namespace gone")
    assert kube.list("pods", "staging") == []
    assert kube.list("deployments", "staging") == []


def wait_available_in(k8s: Any, ns: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        dep = k8s.apps.read_namespaced_deployment("model", ns)
        if dep.status.available_replicas == dep.spec.replicas:
            return
        time.sleep(0.05)
    raise AssertionError("not available")


def test_foreground_deletion_removes_dependents_first(k8s: Any, kube: KubeServer) -> None:
    from kubernetes import watch

    k8s.apps.create_namespaced_deployment("default", deployment(replicas=2))
    k8s.core.create_namespaced_service("default", service())
    wait_available(k8s, "model", 2)
    assert kube.list("endpointslices")  # owned by the service
    rv = k8s.apps.read_namespaced_deployment("model", "default").metadata.resource_version
    k8s.apps.delete_namespaced_deployment("model", "default", propagation_policy="Foreground")
    k8s.core.delete_namespaced_service("model", "default", propagation_policy="Foreground")
    w = watch.Watch()
    for event in w.stream(
        k8s.apps.list_namespaced_deployment, "default", resource_version=rv, timeout_seconds=10
    ):
        if event["type"] == "DELETED":
            w.stop()
            break
    else:
        raise AssertionError("no DELETED event")
    assert kube.list("pods") == []
    assert kube.list("replicasets") == []
    kube.wait_for(lambda: kube.get("services", "model") is None, what="the service to go")
    assert kube.list("endpointslices") == []


def test_watch_label_selector_turns_relabels_into_added_and_deleted(
    k8s: Any, kube: KubeServer
) -> None:
    from kubernetes import watch

    rv = k8s.core.list_namespaced_config_map("default").metadata.resource_version
    k8s.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "c", "labels": {"x": "1"}}}
    )
    k8s.core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"x": "2"}}})
    k8s.core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"x": "1"}}})
    w = watch.Watch()
    seen = [
        e["type"]
        for e in w.stream(
            k8s.core.list_namespaced_config_map,
            "default",
            label_selector="x=1",
            resource_version=rv,
            timeout_seconds=1,
        )
    ]
    assert seen == ["ADDED", "DELETED", "ADDED"]


def test_watch_without_resource_version_starts_with_current_state(k8s: Any) -> None:
    from kubernetes import watch

    for name in ("a", "b"):
        k8s.core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    started = time.monotonic()
    w = watch.Watch()
    events = [
        (e["type"], e["object"].metadata.name)
        for e in w.stream(k8s.core.list_namespaced_config_map, "default", timeout_seconds=1)
    ]
    assert 0.9 < time.monotonic() - started < 5  # the server ends the stream at timeoutSeconds
    assert events[:2] == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_from_an_expired_resource_version_gets_410(kube: KubeServer) -> None:
    import urllib.request

    kube.store.oldest_rv = 10_000  # as if the history had been compacted
    req = urllib.request.Request(
        f"{kube.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=5",
        headers={"Authorization": f"Bearer {kube.token}"},
    )
    with urllib.request.urlopen(req, context=kube.ssl_context(), timeout=5) as resp:
        event = json.loads(resp.readline())
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"


def test_hpa_keeps_the_deployment_within_bounds(k8s: Any, kube: KubeServer) -> None:
    k8s.apps.create_namespaced_deployment("default", deployment(replicas=1))
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "model"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "model"},
            "minReplicas": 2,
            "maxReplicas": 4,
        },
    }
    created = k8s.autoscaling.create_namespaced_horizontal_pod_autoscaler("default", hpa)
    assert created.spec.metrics[0].resource.name == "cpu"  # the server's default metric
    wait_available(k8s, "model", 2)
    status = k8s.autoscaling.read_namespaced_horizontal_pod_autoscaler("model", "default").status
    conds = {c.type: c for c in status.conditions}
    assert status.desired_replicas == 2
    assert conds["ScalingActive"].status == "False"
    dep = kube.get("deployments", "model")
    scaler = [m for m in dep["metadata"]["managedFields"] if m.get("subresource") == "scale"]
    assert scaler
    assert scaler[0]["manager"] == "kube-controller-manager"


def test_field_validation_strict_warn_and_types(kube: KubeServer) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    bad = deployment()
    bad["spec"]["replicaz"] = 3
    code, _, status = raw_request(kube, "POST", path + "?fieldValidation=Strict", bad)
    assert code == 400
    assert status["message"] == 'strict decoding error: unknown field "spec.replicaz"'
    code, headers, created = raw_request(kube, "POST", path, bad)  # default: Warn
    assert code == 201
    assert headers["Warning"] == '299 - "unknown field \\"spec.replicaz\\""'
    assert "replicaz" not in json.dumps(created)
    assert "replicaz" not in json.dumps(kube.get("deployments", "model"))
    wrong = deployment(name="other")
    wrong["spec"]["replicas"] = "two"
    code, _, status = raw_request(kube, "POST", path, wrong)
    assert code == 400
    assert "cannot unmarshal string into Go struct field" in status["message"]
    code, _, status = raw_request(
        kube,
        "PATCH",
        path + "/model?fieldManager=x&fieldValidation=Strict",
        b"spec:\n  replicaz: 1\n",
        "application/apply-patch+yaml",
    )
    assert code == 400


def test_recreate_strategy_and_revision_history_limit(k8s: Any, kube: KubeServer) -> None:
    k8s.apps.create_namespaced_deployment(
        "default",
        deployment(replicas=2, strategy={"type": "Recreate"}, revisionHistoryLimit=1),
    )
    wait_available(k8s, "model", 2)
    for tag in (2, 3):
        k8s.apps.patch_namespaced_deployment(
            "model",
            "default",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "model", "image": f"registry.local/model:{tag}"}
                            ]
                        }
                    }
                }
            },
        )
        wait_available(k8s, "model", 2)
    rses = kube.list("replicasets")
    revisions = sorted(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in rses
    )
    assert revisions == ["2", "3"]  # one old ReplicaSet kept


def test_subprocess_server_with_remote_controls(tmp_path: Path) -> None:
    from kubernetes import client, config

    with kube_server_process(tmp_path) as remote:
        remote.mark_image_broken("registry.local/model:bad")
        with config.new_client_from_config(str(remote.kubeconfig)) as api_client:
            apps = client.AppsV1Api(api_client)
            apps.create_namespaced_deployment(
                "default", deployment(image="registry.local/model:bad", replicas=1)
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pods = remote.list("pods", "default")
                waiting = [
                    p
                    for p in pods
                    if p["status"].get("containerStatuses")
                    and "waiting" in p["status"]["containerStatuses"][0]["state"]
                ]
                if waiting:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("no pod reported a waiting container")
        reason = waiting[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        assert reason == "ImagePullBackOff"
        assert remote.get("deployments", "model")["metadata"]["name"] == "model"


def test_every_kind_decodes_with_the_typed_client(k8s: Any, kube: KubeServer) -> None:
    """The pydantic-based client refuses responses that lack required fields: list all states."""
    from kubernetes import client

    kube.mark_image_broken("registry.local/model:bad")
    kube.set_pods_failing("registry.local/model:crash")
    kube.set_job_outcome("fail", job="train", logs=["x"])
    for name, image in (("ok", "registry.local/model:1"), ("bad", "registry.local/model:bad"),
                        ("crash", "registry.local/model:crash")):  # fmt: skip
        k8s.apps.create_namespaced_deployment("default", deployment(name=name, image=image))
    blocked = deployment(name="blocked")
    blocked["spec"]["template"]["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": "x"}}]
    k8s.apps.create_namespaced_deployment("default", blocked)
    k8s.core.create_namespaced_service("default", service(name="ok"))
    k8s.batch.create_namespaced_job("default", {
        "metadata": {"name": "train"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                 "containers": [{"name": "t", "image": "registry.local/train:1"}]}}},
    })  # fmt: skip
    k8s.autoscaling.create_namespaced_horizontal_pod_autoscaler("default", {
        "metadata": {"name": "ok"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ok"},
                 "maxReplicas": 3},
    })  # fmt: skip
    wait_available(k8s, "ok", 2)
    kube.wait_for(
        lambda: any(
            c["type"] == "Failed"
            for c in (kube.get("jobs", "train") or {}).get("status", {}).get("conditions", [])
        ),
        what="the job to fail",
    )
    discovery = client.DiscoveryV1Api(k8s.raw)
    listings = [
        k8s.core.list_namespace(), k8s.core.list_node(), k8s.core.list_namespaced_pod("default"),
        k8s.core.list_namespaced_service("default"), k8s.core.list_namespaced_event("default"),
        k8s.core.list_namespaced_endpoints("default"),
        discovery.list_namespaced_endpoint_slice("default"),
        k8s.apps.list_namespaced_deployment("default"),
        k8s.apps.list_namespaced_replica_set("default"), k8s.batch.list_namespaced_job("default"),
        k8s.autoscaling.list_namespaced_horizontal_pod_autoscaler("default"),
    ]  # fmt: skip
    assert all(listing.items for listing in listings)
    phases = {p.status.phase for p in listings[2].items}
    assert {"Running", "Pending", "Failed"} <= phases
