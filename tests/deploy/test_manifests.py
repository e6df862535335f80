"""Generated and user manifests: what they hold, and that bad ones stop the deploy early."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from modelship.ci.errors import UsageError
from modelship.kube import manifests, render
from tests.deploy.conftest import kubeconfig_for, run_deploy
from tests.harness.http import LoopbackServer, Recorded, RefusingHandler


def _spec(**overrides: object) -> render.AppSpec:
    values: dict[str, object] = {
        "name": "churn-staging",
        "namespace": "ml",
        "image": "ghcr.io/acme/churn:1.4.0",
        "annotations": {"modelship.io/git-sha": "abc123"},
    }
    values.update(overrides)
    return render.AppSpec(**values)  # type: ignore[arg-type]


def test_generated_manifests_are_valid_kubernetes() -> None:
    for item in render.render(_spec(autoscale_max=6)):
        kubernetes_validate.validate(item, kubernetes_validate.latest_version(), strict=True)


def test_generated_deployment_is_probed_limited_and_non_root() -> None:
    deployment = render.deployment(_spec())
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == "model"
    assert container["image"] == "ghcr.io/acme/churn:1.4.0"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/ping"
    assert container["resources"]["limits"]["memory"] == "1Gi"
    assert container["resources"]["requests"]["cpu"] == "250m"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False
    assert deployment["spec"]["replicas"] == 2
    # Lineage on the Deployment and on its pods (so every ReplicaSet keeps it).
    assert deployment["metadata"]["annotations"]["modelship.io/git-sha"] == "abc123"
    assert (
        deployment["spec"]["template"]["metadata"]["annotations"]["modelship.io/git-sha"]
        == "abc123"
    )


def test_autoscaler_only_when_asked_and_it_owns_the_replicas() -> None:
    assert [m["kind"] for m in render.render(_spec())] == ["Deployment", "Service"]
    with_hpa = render.render(_spec(autoscale_max=6, replicas=3))
    hpa = with_hpa[2]
    assert hpa["kind"] == "HorizontalPodAutoscaler"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 6)
    assert "replicas" not in with_hpa[0]["spec"]


def test_dns_name_makes_a_valid_label() -> None:
    assert render.dns_name("Churn Model_v2-Production") == "churn-model-v2-production"
    assert render.dns_name("2fast") == "m-2fast"


def test_dry_run_writes_valid_manifests_with_lineage(tmp_path: Path) -> None:
    run = run_deploy(
        tmp_path,
        [
            "--image",
            "ghcr.io/acme/churn@sha256:" + "a" * 64,
            "--model-uri",
            "models:/churn/7",
            "--environment",
            "production",
            "--namespace",
            "ml",
            "--dry-run",
        ],
        env={"GITHUB_SHA": "0123456789abcdef", "MODELSHIP_RUN_ID": "r-42"},
    )
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "dry-run"
    assert run.outputs["serving"] == "churn-production"
    written = tmp_path / run.outputs["manifests-dir"] / "churn-production.yaml"
    docs = list(yaml.safe_load_all(written.read_text()))
    assert [d["kind"] for d in docs] == ["Deployment", "Service"]
    annotations = docs[0]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["modelship.io/git-sha"] == "0123456789abcdef"
    assert annotations["modelship.io/model-version"] == "7"
    assert annotations["modelship.io/run-id"] == "r-42"
    assert annotations["modelship.io/image-digest"] == "sha256:" + "a" * 64
    for doc in docs:
        assert doc["metadata"]["namespace"] == "ml"
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


USER_MANIFESTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: churn-settings}
data: {THRESHOLD: "0.5"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: churn}
spec:
  replicas: 1
  selector: {matchLabels: {app: churn}}
  template:
    metadata: {labels: {app: churn}}
    spec:
      containers:
        - name: sidecar
          image: busybox:1.36
        - name: server
          image: MODELSHIP_IMAGE
---
apiVersion: v1
kind: Service
metadata: {name: churn}
spec:
  selector: {app: churn}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def test_user_manifests_get_the_image_through_the_placeholder(tmp_path: Path) -> None:
    (tmp_path / "k8s.yaml").write_text(USER_MANIFESTS)
    loaded = manifests.set_image(manifests.load(tmp_path / "k8s.yaml"), "img:2")
    deployment = manifests.primary_deployment(loaded)
    images = {c["name"]: c["image"] for c in manifests.containers(deployment)}
    assert images == {"sidecar": "busybox:1.36", "server": "img:2"}
    service = manifests.service_for(loaded, deployment)
    assert service is not None
    assert service["metadata"]["name"] == "churn"


def test_a_directory_of_manifests_loads_every_file(tmp_path: Path) -> None:
    for index, doc in enumerate(USER_MANIFESTS.split("---")):
        (tmp_path / f"{index}.yaml").write_text(doc)
    kinds = sorted(m["kind"] for m in manifests.load(tmp_path))
    assert kinds == ["ConfigMap", "Deployment", "Service"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_a_kustomization_is_built_with_kubectl(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(USER_MANIFESTS)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [all.yaml]\ncommonLabels: {team: risk}\n"
    )
    loaded = manifests.load(tmp_path)
    assert all(m["metadata"]["labels"]["team"] == "risk" for m in loaded)


def test_a_kustomization_without_kubectl_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    with pytest.raises(UsageError, match="neither kubectl nor kustomize"):
        manifests.load(tmp_path, env={"PATH": str(tmp_path / "empty")})


def test_manifests_without_a_model_container_are_refused() -> None:
    docs = manifests.parse(USER_MANIFESTS.replace("MODELSHIP_IMAGE", "nginx"), "k8s.yaml")
    with pytest.raises(UsageError, match="no container"):
        manifests.set_image(docs, "img:2")


def test_cluster_scoped_and_foreign_namespaces_are_refused() -> None:
    namespace = manifests.parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n", "n")
    with pytest.raises(UsageError, match="cluster-scoped"):
        manifests.set_namespace(namespace, "ml")
    other = manifests.parse(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: prod}\n", "c"
    )
    with pytest.raises(UsageError, match="names namespace 'prod'"):
        manifests.set_namespace(other, "ml")


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[Recorded]]]:
    with LoopbackServer(RefusingHandler) as server:
        yield server.url, server.requests


def test_invalid_manifests_exit_2_before_the_cluster_is_contacted(
    tmp_path: Path, recorder: tuple[str, list[Recorded]]
) -> None:
    url, seen = recorder
    (tmp_path / "k8s.yaml").write_text(USER_MANIFESTS.replace("replicas: 1", "replicas: many"))
    run = run_deploy(
        tmp_path,
        ["--image", "img:2", "--manifests", "k8s.yaml", "--kubeconfig", kubeconfig_for(url)],
    )
    assert run.code == 2, run.stderr
    assert "Deployment/churn is not a valid Deployment" in run.stderr
    assert "spec.replicas" in run.stderr
    assert seen == []
