"""The official client's DynamicClient (what modelship's kube package is built on) against the
test server: discovery, server-side apply and watch streams, each checked with the real kubectl."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelship.kube.api import Kube, KubeError
from modelship.kube.watching import ObjectWatch, follow_log
from tests.fakes.kube_server import KubeServer

from .conftest import Kubectl, deployment

APPLY = "application/apply-patch+yaml"


@pytest.fixture
def cluster(kube: KubeServer) -> Iterator[Kube]:
    from kubernetes import config

    client = Kube(config.new_client_from_config(str(kube.kubeconfig)))
    yield client
    client.close()


def _manifest(**spec: Any) -> dict[str, Any]:
    body = deployment(**spec)
    body["metadata"]["namespace"] = "default"
    return body


def test_discovery_finds_each_kind_kubectl_lists_with_the_same_scope(
    cluster: Kube, kubectl: Kubectl
) -> None:
    listed = kubectl("api-resources", "--no-headers", "-o", "wide").stdout.splitlines()
    scope = {}
    for line in listed:
        cells = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS...
        at = next(i for i, cell in enumerate(cells) if cell in ("true", "false"))
        scope[(cells[at - 1], cells[at + 1])] = (cells[0], cells[at] == "true")
    for api_version, kind in [
        ("v1", "Pod"),
        ("v1", "Service"),
        ("v1", "Namespace"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("batch/v1", "Job"),
    ]:
        resource = cluster.resource(api_version, kind)
        assert (resource.name, resource.namespaced) == scope[(api_version, kind)]


def test_a_kind_the_server_does_not_serve_is_a_404_kube_error(cluster: Kube) -> None:
    with pytest.raises(KubeError) as caught:
        cluster.resource("example.com/v1", "Widget")
    assert caught.value.status == 404


def test_server_side_apply_owns_fields_and_takes_them_back_from_kubectl(
    cluster: Kube, kube: KubeServer, kubectl: Kubectl, tmp_path: Path
) -> None:
    applied = cluster.apply(_manifest(replicas=2))
    assert applied["spec"]["replicas"] == 2
    request = kube.requests_matching("PATCH", "/deployments/model")[-1]
    assert request.content_type == APPLY
    assert request.query["fieldManager"] == ["modelship"]

    other = _manifest(replicas=5)
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other))
    refused = kubectl(
        "apply", "--server-side", "--field-manager=someone", "-f", str(path), check=False
    )
    assert refused.returncode != 0
    assert "conflict" in refused.stderr.lower()

    kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=someone", "-f", str(path)
    )
    assert kubectl.json("get", "deployment", "model")["spec"]["replicas"] == 5
    cluster.apply(_manifest(replicas=2))
    live = kubectl.json("get", "deployment", "model", "--show-managed-fields")
    assert live["spec"]["replicas"] == 2
    owners = {
        entry["manager"]
        for entry in live["metadata"]["managedFields"]
        if "f:replicas" in entry.get("fieldsV1", {}).get("f:spec", {})
    }
    assert owners == {"modelship"}


def test_watch_streams_the_changes_kubectl_makes(
    cluster: Kube, kube: KubeServer, kubectl: Kubectl
) -> None:
    created = cluster.apply(_manifest(replicas=1))
    watch = ObjectWatch(
        cluster, "apps/v1", "Deployment", "default", field_selector="metadata.name=model"
    )
    watch.restart_from(created["metadata"]["resourceVersion"])
    seen: list[tuple[str, str]] = []

    def annotate_then_delete() -> None:
        kubectl("annotate", "deployment", "model", "example.com/note=watched")
        kubectl("delete", "deployment", "model", "--wait=false")

    changer = threading.Thread(target=annotate_then_delete)
    changer.start()
    try:
        for etype, obj in watch.events(20):
            seen.append((etype, obj["metadata"].get("annotations", {}).get("example.com/note", "")))
            if etype == "DELETED":
                break
    finally:
        watch.stop()
        changer.join()
    assert ("MODIFIED", "watched") in seen
    assert seen[-1][0] == "DELETED"
    streams = kube.requests_matching("GET", "/apis/apps/v1/namespaces/default/deployments")
    assert any(r.query.get("watch") == ["true"] for r in streams)


def test_watch_from_a_version_the_server_dropped_is_a_410_kube_error(
    cluster: Kube, kube: KubeServer
) -> None:
    cluster.apply(_manifest(replicas=1))
    kube.store.oldest_rv = kube.store.rv + 5  # as if the history had been compacted
    watch = ObjectWatch(cluster, "apps/v1", "Deployment", "default")
    watch.restart_from("1")
    with pytest.raises(KubeError) as caught:
        list(watch.events(5))
    assert caught.value.status == 410


def test_follow_log_yields_the_lines_kubectl_logs_shows(
    cluster: Kube, kube: KubeServer, kubectl: Kubectl
) -> None:
    kube.set_pod_logs("registry.local/model:1", ["first line", "second line"])
    cluster.apply(_manifest(replicas=1))
    pod = kube.wait_for(lambda: _running_pod(cluster), what="a running pod of the Deployment")
    name = pod["metadata"]["name"]
    container = pod["spec"]["containers"][0]["name"]
    expected = kubectl("logs", name, "-c", container).stdout.splitlines()
    assert expected[:2] == ["first line", "second line"]
    # The pod keeps running, so the stream stays open: take what was written so far.
    followed = list(itertools.islice(follow_log(cluster, "default", name, container), 2))
    assert followed == expected[:2]


def _running_pod(cluster: Kube) -> dict[str, Any] | None:
    for pod in cluster.list("v1", "Pod", "default", "app=model"):
        statuses = pod.get("status", {}).get("containerStatuses") or []
        if statuses and "running" in statuses[0].get("state", {}):
            return pod
    return None


def test_resolving_a_kind_reads_only_its_own_group_versions_resource_list(
    cluster: Kube, kube: KubeServer
) -> None:
    cluster.resource("v1", "Pod")
    cluster.resource("apps/v1", "Deployment")
    cluster.resource("v1", "Service")  # from the list already read
    lists = [
        r.path
        for r in kube.requests
        if r.method == "GET" and r.path.startswith(("/api/", "/apis/")) and r.path.count("/") <= 3
    ]
    assert sorted(lists) == ["/api/v1", "/apis/apps/v1"]
