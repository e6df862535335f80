"""The official Python client against the test server: CRUD, errors, apply, watch, proxy."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.fakes.kube_server import KubeServer

from .conftest import deployment, service

APPLY = "application/apply-patch+yaml"


def _status(err: Any) -> dict[str, Any]:
    return json.loads(err.body)


def wait_available(k8s: Any, name: str, replicas: int, timeout: int = 10) -> Any:
    """Watch (not poll) the deployment until the rollout is complete, as deploy code would."""
    from kubernetes import watch

    listing = k8s.apps.list_namespaced_deployment("default", field_selector=f"metadata.name={name}")
    for item in listing.items:
        if _complete(item, replicas):
            return item
    w = watch.Watch()
    for event in w.stream(
        k8s.apps.list_namespaced_deployment,
        "default",
        field_selector=f"metadata.name={name}",
        resource_version=listing.metadata.resource_version,
        timeout_seconds=timeout,
    ):
        if _complete(event["object"], replicas):
            w.stop()
            return event["object"]
    raise AssertionError(f"deployment {name} did not complete within {timeout}s")


def _complete(dep: Any, replicas: int) -> bool:
    st = dep.status
    conds = {c.type: c for c in st.conditions or []}
    return (
        (st.observed_generation or 0) >= dep.metadata.generation
        and st.updated_replicas == replicas
        and st.available_replicas == replicas
        and (st.replicas or 0) == replicas
        and conds.get("Progressing") is not None
        and conds["Progressing"].reason == "NewReplicaSetAvailable"
    )


def test_discovery_and_version(k8s: Any) -> None:
    from kubernetes import client

    version = client.VersionApi(k8s.raw).get_code()
    assert (version.major, version.minor) == ("1", "32")
    groups = {g.name for g in client.ApisApi(k8s.raw).get_api_versions().groups}
    assert {"apps", "batch", "autoscaling"} <= groups
    resources = {r.name for r in k8s.apps.get_api_resources().resources}
    assert {"deployments", "deployments/status", "deployments/scale", "replicasets"} <= resources


def test_create_get_list_replace_delete(k8s: Any, kube: KubeServer) -> None:
    created = k8s.apps.create_namespaced_deployment("default", deployment())
    assert created.metadata.uid
    assert created.metadata.generation == 1
    assert created.spec.strategy.rolling_update.max_surge == "25%"  # server-side defaults
    assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    got = k8s.apps.read_namespaced_deployment("model", "default")
    assert got.metadata.uid == created.metadata.uid
    assert [
        d.metadata.name
        for d in k8s.apps.list_namespaced_deployment("default", label_selector="app=model").items
    ] == ["model"]
    assert k8s.apps.list_namespaced_deployment("default", label_selector="app!=model").items == []

    from kubernetes import client

    stale = k8s.apps.read_namespaced_deployment("model", "default")
    codes = []
    for _ in range(10):  # the controller writes status meanwhile: read-modify-write and retry
        got = k8s.apps.read_namespaced_deployment("model", "default")
        got.spec.replicas = 3
        try:
            replaced = k8s.apps.replace_namespaced_deployment("model", "default", got)
            break
        except client.ApiException as err:
            codes.append(err.status)
    assert set(codes) <= {409}
    assert replaced.spec.replicas == 3
    assert replaced.metadata.generation == 2
    stale.spec.replicas = 4
    with pytest.raises(client.ApiException) as conflict:
        k8s.apps.replace_namespaced_deployment("model", "default", stale)
    assert conflict.value.status == 409
    assert _status(conflict.value)["reason"] == "Conflict"

    wait_available(k8s, "model", 3)
    assert len(k8s.core.list_namespaced_pod("default", label_selector="app=model").items) == 3
    k8s.apps.delete_namespaced_deployment("model", "default")
    kube.wait_for(
        lambda: not kube.list("pods") and not kube.list("replicasets"),
        what="owned ReplicaSets and Pods to be garbage collected",
    )


def test_generation_follows_spec_changes(k8s: Any) -> None:
    k8s.apps.create_namespaced_deployment("default", deployment())
    patched = k8s.apps.patch_namespaced_deployment("model", "default", {"spec": {"replicas": 1}})
    assert patched.metadata.generation == 2
    same = k8s.apps.patch_namespaced_deployment("model", "default", {"spec": {"replicas": 1}})
    assert same.metadata.generation == 2
    annotated = k8s.apps.patch_namespaced_deployment(
        "model", "default", {"metadata": {"annotations": {"a": "b"}}}
    )
    assert annotated.metadata.generation == 3  # deployments count annotation changes too
    svc = k8s.core.create_namespaced_service("default", service())
    again = k8s.core.patch_namespaced_service("model", "default", {"spec": {"type": "ClusterIP"}})
    assert again.metadata.resource_version == svc.metadata.resource_version  # a no-op write


def test_error_statuses(k8s: Any, kube: KubeServer) -> None:
    from kubernetes import client, config

    with pytest.raises(client.ApiException) as missing:
        k8s.apps.read_namespaced_deployment("nope", "default")
    body = _status(missing.value)
    assert missing.value.status == 404
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "nope" not found'

    k8s.apps.create_namespaced_deployment("default", deployment())
    with pytest.raises(client.ApiException) as dup:
        k8s.apps.create_namespaced_deployment("default", deployment())
    assert dup.value.status == 409
    assert _status(dup.value)["reason"] == "AlreadyExists"

    bad = deployment(name="Bad_Name")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    bad["spec"]["template"]["spec"]["containers"][0].pop("image")
    with pytest.raises(client.ApiException) as invalid:
        k8s.apps.create_namespaced_deployment("default", bad)
    body = _status(invalid.value)
    assert invalid.value.status == 422
    assert body["reason"] == "Invalid"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {
        "metadata.name",
        "spec.template.metadata.labels",
        "spec.template.spec.containers[0].image",
    } <= fields

    with pytest.raises(client.ApiException) as no_ns:
        k8s.apps.create_namespaced_deployment("missing", deployment())
    assert no_ns.value.status == 404
    assert _status(no_ns.value)["message"] == 'namespaces "missing" not found'

    wrong_config = kube.kubeconfig.with_name("wrong-token")
    wrong_config.write_text(kube.kubeconfig.read_text().replace(kube.token, "wrong-token"))
    with (
        config.new_client_from_config(str(wrong_config)) as wrong,
        pytest.raises(client.ApiException) as denied,
    ):
        client.AppsV1Api(wrong).list_namespaced_deployment("default")
    assert denied.value.status == 401
    assert _status(denied.value)["reason"] == "Unauthorized"


def test_server_side_apply_owns_fields_and_reports_conflicts(k8s: Any) -> None:
    from kubernetes import client

    applied = k8s.apps.patch_namespaced_deployment(
        "model", "default", deployment(), field_manager="modelship", _content_type=APPLY
    )
    entries = {(m.manager, m.operation) for m in applied.metadata.managed_fields}
    assert ("modelship", "Apply") in entries
    owned = next(m for m in applied.metadata.managed_fields if m.manager == "modelship").fields_v1
    containers = owned["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert 'k:{"name":"model"}' in containers

    # another manager changes the image with a plain update: it now owns that field
    k8s.apps.patch_namespaced_deployment(
        "model",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "model", "image": "other:9"}]}}}},
        field_manager="someone-else",
    )
    with pytest.raises(client.ApiException) as conflict:
        k8s.apps.patch_namespaced_deployment(
            "model",
            "default",
            deployment(image="registry.local/model:2"),
            field_manager="modelship",
            _content_type=APPLY,
        )
    body = _status(conflict.value)
    assert conflict.value.status == 409
    assert body["reason"] == "Conflict"
    assert body["details"]["causes"][0]["field"] == (
        '.spec.template.spec.containers[name="model"].image'
    )
    assert "someone-else" in body["message"]

    forced = k8s.apps.patch_namespaced_deployment(
        "model",
        "default",
        deployment(image="registry.local/model:2"),
        field_manager="modelship",
        force=True,
        _content_type=APPLY,
    )
    assert forced.spec.template.spec.containers[0].image == "registry.local/model:2"

    # dropping a field from the applied configuration removes it from the object
    smaller = deployment(image="registry.local/model:2")
    del smaller["metadata"]["labels"]
    again = k8s.apps.patch_namespaced_deployment(
        "model", "default", smaller, field_manager="modelship", _content_type=APPLY
    )
    assert not again.metadata.labels


def test_apply_creates_and_is_idempotent(k8s: Any) -> None:
    first = k8s.core.patch_namespaced_service(
        "model", "default", service(), field_manager="modelship", _content_type=APPLY
    )
    assert first.spec.cluster_ip
    assert first.spec.ports[0].protocol == "TCP"
    second = k8s.core.patch_namespaced_service(
        "model", "default", service(), field_manager="modelship", _content_type=APPLY
    )
    assert second.metadata.resource_version == first.metadata.resource_version
    assert second.spec.cluster_ip == first.spec.cluster_ip
    assert len(second.spec.ports) == 1


def test_watch_stream_sees_rollout(k8s: Any) -> None:
    from kubernetes import watch

    rv = k8s.apps.list_namespaced_deployment("default").metadata.resource_version
    k8s.apps.create_namespaced_deployment("default", deployment(replicas=2))
    seen: list[tuple[str, int | None]] = []
    w = watch.Watch()
    for event in w.stream(
        k8s.apps.list_namespaced_deployment, "default", resource_version=rv, timeout_seconds=10
    ):
        seen.append((event["type"], event["object"].status.available_replicas))
        if event["object"].status.available_replicas == 2:
            w.stop()
    assert seen[0][0] == "ADDED"
    assert seen[-1] == ("MODIFIED", 2)
    k8s.apps.delete_namespaced_deployment("model", "default")
    w = watch.Watch()
    types = []
    for event in w.stream(
        k8s.apps.list_namespaced_deployment, "default", resource_version=rv, timeout_seconds=5
    ):
        types.append(event["type"])
        if event["type"] == "DELETED":
            w.stop()
    assert types[0] == "ADDED"
    assert types[-1] == "DELETED"


def test_broken_image_exceeds_progress_deadline_and_old_pods_keep_serving(
    k8s: Any, kube: KubeServer
) -> None:
    k8s.apps.create_namespaced_deployment("default", deployment(progressDeadlineSeconds=1))
    wait_available(k8s, "model", 2)
    kube.mark_image_broken("registry.local/model:bad")
    started = time.monotonic()
    k8s.apps.patch_namespaced_deployment(
        "model",
        "default",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "model", "image": "registry.local/model:bad"}]}
                }
            }
        },
    )
    dep = kube.wait_for(
        lambda: next(
            (
                d
                for d in [kube.get("deployments", "model")]
                if any(
                    c["reason"] == "ProgressDeadlineExceeded"
                    for c in d["status"].get("conditions", [])
                )
            ),
            None,
        ),
        timeout=10,
        what="ProgressDeadlineExceeded",
    )
    assert 0.9 < time.monotonic() - started < 5
    progressing = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["status"] == "False"
    assert dep["status"]["availableReplicas"] == 2  # maxUnavailable 25% of 2 rounds down to 0
    bad = [
        p
        for p in k8s.core.list_namespaced_pod("default").items
        if p.spec.containers[0].image == "registry.local/model:bad"
    ]
    assert bad
    assert all(not p.status.container_statuses[0].ready for p in bad)
    assert bad[0].status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
    reasons = {
        e.reason
        for e in k8s.core.list_namespaced_event(
            "default", field_selector=f"involvedObject.name={bad[0].metadata.name}"
        ).items
    }
    assert {"Scheduled", "Failed", "BackOff"} <= reasons


def test_scale_subresource(k8s: Any) -> None:
    k8s.apps.create_namespaced_deployment("default", deployment(replicas=1))
    scale = k8s.apps.read_namespaced_deployment_scale("model", "default")
    assert scale.spec.replicas == 1
    assert scale.status.selector == "app=model"
    k8s.apps.patch_namespaced_deployment_scale("model", "default", {"spec": {"replicas": 3}})
    wait_available(k8s, "model", 3)


def _tracked(track: str, image: str, replicas: int) -> dict[str, Any]:
    dep = deployment(name=f"model-{track}", image=image, replicas=replicas)
    labels = {"app": "model", "track": track}
    dep["metadata"]["labels"] = labels
    dep["spec"]["selector"] = {"matchLabels": labels}
    dep["spec"]["template"]["metadata"]["labels"] = labels
    return dep


def _proxy(kube: KubeServer, path: str, body: bytes | None = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        f"{kube.url}/api/v1/namespaces/default/services/{path}",
        data=body,
        headers={"Authorization": f"Bearer {kube.token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(req, context=kube.ssl_context(), timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_service_proxy_round_robins_ready_pods(
    k8s: Any, kube: KubeServer, echo_backend: Any
) -> None:
    kube.set_backend("registry.local/model:1", echo_backend("stable"))
    kube.set_backend("registry.local/model:2", echo_backend("canary"))
    k8s.apps.create_namespaced_deployment(
        "default", _tracked("stable", "registry.local/model:1", 3)
    )
    k8s.apps.create_namespaced_deployment(
        "default", _tracked("canary", "registry.local/model:2", 1)
    )
    k8s.core.create_namespaced_service("default", service())
    wait_available(k8s, "model-stable", 3)
    wait_available(k8s, "model-canary", 1)

    code, data = _proxy(kube, "model:http/proxy/invocations?x=1", b'{"inputs": [[1, 2]]}')
    assert code == 200
    assert data["method"] == "POST"
    assert data["path"] == "/invocations?x=1"
    assert data["body"] == '{"inputs": [[1, 2]]}'
    assert data["authorization"] is None  # the cluster token never reaches the workload
    answers = [_proxy(kube, "http:model:80/proxy/ping")[1]["backend"] for _ in range(8)]
    assert answers.count("stable") == 6
    assert answers.count("canary") == 2

    # the official client's proxy call reaches the same pods
    resp = k8s.core.connect_get_namespaced_service_proxy_with_path(
        "model:http", "default", "ping", _preload_content=False
    )
    assert json.loads(resp.data)["backend"] in ("stable", "canary")

    k8s.core.create_namespaced_service(
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "nobody"},
            "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]},
        },
    )
    code, status = _proxy(kube, "nobody/proxy/ping")
    assert code == 503
    assert status["message"] == 'no endpoints available for service "nobody"'

    kube.set_backend("registry.local/model:2", None)
    codes = {_proxy(kube, "model/proxy/ping")[0] for _ in range(4)}
    assert codes == {200, 503}  # the canary pod's image has no backend: its turn fails


def test_token_stays_out_of_records_and_kubeconfig_is_private(k8s: Any, kube: KubeServer) -> None:
    k8s.apps.list_namespaced_deployment("default")
    assert kube.requests
    assert all(r.authenticated for r in kube.requests)
    assert kube.token not in repr(kube.requests)
    assert kube.kubeconfig is not None
    assert kube.kubeconfig.stat().st_mode & 0o077 == 0
    config = kube.kubeconfig.read_text()
    assert kube.token in config
    assert "certificate-authority-data" in config


def test_pods_wait_for_missing_secrets_and_start_once_they_exist(
    k8s: Any, kube: KubeServer
) -> None:
    dep = deployment(replicas=1)
    pod_spec = dep["spec"]["template"]["spec"]
    pod_spec["containers"][0]["env"] = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}
    ]
    pod_spec["volumes"] = [{"name": "config", "configMap": {"name": "model-config"}}]
    k8s.apps.create_namespaced_deployment("default", dep)

    def waiting_reason() -> str | None:
        pods = kube.list("pods")
        statuses = pods[0]["status"].get("containerStatuses") if pods else None
        return statuses[0]["state"].get("waiting", {}).get("reason") if statuses else None

    assert kube.wait_for(waiting_reason, what="a waiting container") == "ContainerCreating"
    events = [e.message for e in k8s.core.list_namespaced_event("default").items]
    assert 'MountVolume.SetUp failed for volume "config" : configmap "model-config" not found' in (
        events
    )
    k8s.core.create_namespaced_config_map("default", {"metadata": {"name": "model-config"}})
    kube.wait_for(lambda: waiting_reason() == "CreateContainerConfigError", what="env error")
    pod = kube.list("pods")[0]
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["message"] == 'secret "creds" not found'
    k8s.core.create_namespaced_secret(
        "default", {"metadata": {"name": "creds"}, "data": {"token": "c2VjcmV0"}}
    )
    wait_available(k8s, "model", 1)


def test_opt_in_readiness_probes_call_the_backend(tmp_path: Any, echo_backend: Any) -> None:
    from kubernetes import client, config

    from tests.fixtures.kube import kube_server
    from tests.harness.http import JsonHandler, LoopbackServer

    class Sick(JsonHandler):
        def do_GET(self) -> None:
            self.send_bytes(503, b"")

    with LoopbackServer(Sick) as sick, kube_server(tmp_path, probes=True) as kube:
        kube.set_backend("registry.local/model:1", echo_backend("healthy"))
        kube.set_backend("registry.local/model:2", sick.url)
        dep = deployment(replicas=1, progressDeadlineSeconds=1)
        dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
            "httpGet": {"path": "/ping", "port": 8080}
        }
        with config.new_client_from_config(str(kube.kubeconfig)) as api:

            class K:
                apps = client.AppsV1Api(api)

            K.apps.create_namespaced_deployment("default", dep)
            wait_available(K, "model", 1)
            K.apps.patch_namespaced_deployment(
                "model",
                "default",
                {"spec": {"template": {"spec": {"containers": [
                    {"name": "model", "image": "registry.local/model:2"}]}}}},
            )  # fmt: skip
            kube.wait_for(
                lambda: any(
                    c["reason"] == "ProgressDeadlineExceeded"
                    for c in kube.get("deployments", "model")["status"].get("conditions", [])
                ),
                what="the unready pods to stall the rollout",
            )
            unhealthy = [e["message"] for e in kube.list("events") if e["reason"] == "Unhealthy"]
            assert unhealthy
            assert unhealthy[0] == "Readiness probe failed: HTTP probe failed with statuscode: 503"
            running = [p for p in kube.list("pods") if p["status"].get("phase") == "Running"]
            assert len(running) == 2  # the new pod runs but is not ready
