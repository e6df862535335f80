"""Optional RBAC: a token restricted to a namespaced Role, as a CI deployer usually is."""

from __future__ import annotations

from typing import Any

from tests.fakes.kube_server import KubeServer

from .conftest import deployment, raw_request, service

APPLY = "application/apply-patch+yaml"


def role(*rules: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "deployer", "namespace": namespace},
        "rules": list(rules),
    }


DEPLOY_RULES = [
    {"apiGroups": ["apps"], "resources": ["deployments"],
     "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "patch", "create"]},
]  # fmt: skip


def test_restricted_token_gets_403_with_the_real_messages(kube: KubeServer) -> None:
    kube.restrict(role(*DEPLOY_RULES), user="system:serviceaccount:ci:deployer")
    path = "/apis/apps/v1/namespaces/default/deployments"
    code, _, status = raw_request(
        kube, "PATCH", f"{path}/model?fieldManager=modelship", deployment(), APPLY
    )
    assert code == 403
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'deployments.apps "model" is forbidden: User "system:serviceaccount:ci:deployer" cannot '
        'create resource "deployments" in API group "apps" in the namespace "default"'
    )  # apply that creates needs `create` too

    kube.restrict(role(*DEPLOY_RULES, {"apiGroups": ["apps"], "resources": ["deployments"],
                                       "verbs": ["create"]}))  # fmt: skip
    code, _, _ = raw_request(
        kube, "PATCH", f"{path}/model?fieldManager=modelship", deployment(), APPLY
    )
    assert code == 201
    assert raw_request(kube, "GET", path)[0] == 200
    code, _, status = raw_request(kube, "DELETE", f"{path}/model")
    assert code == 403
    assert "cannot delete resource" in status["message"]

    code, _, status = raw_request(kube, "GET", "/api/v1/namespaces/default")
    assert code == 403
    assert status["message"] == (
        'namespaces "default" is forbidden: User "modelship-ci" cannot get resource '
        '"namespaces" in API group "" at the cluster scope'
    )
    code, _, _ = raw_request(
        kube, "PATCH", "/api/v1/namespaces/default/services/model?fieldManager=m", service(), APPLY
    )
    assert code == 201
    code, _, status = raw_request(kube, "GET", "/api/v1/namespaces/default/services/model/proxy/")
    assert code == 403
    assert 'cannot get resource "services/proxy"' in status["message"]
    code, _, status = raw_request(kube, "GET", "/apis/apps/v1/namespaces/other/deployments")
    assert code == 403
    assert 'in the namespace "other"' in status["message"]
    assert raw_request(kube, "GET", "/apis/apps/v1")[0] == 200  # discovery stays open

    kube.unrestrict()
    assert raw_request(kube, "DELETE", f"{path}/model")[0] == 200


def test_resource_names_and_subresources(kube: KubeServer) -> None:
    kube.create(deployment(name="a"))
    kube.create(deployment(name="b"))
    kube.restrict(role(
        {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["a"],
         "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
    ))  # fmt: skip
    base = "/apis/apps/v1/namespaces/default/deployments"
    assert raw_request(kube, "GET", f"{base}/a")[0] == 200
    assert raw_request(kube, "GET", f"{base}/b")[0] == 403
    assert raw_request(kube, "GET", f"{base}/b/scale")[0] == 200
    code, _, _ = raw_request(kube, "PATCH", f"{base}/b/scale", {"spec": {"replicas": 3}},
                             "application/merge-patch+json")  # fmt: skip
    assert code == 200
    assert kube.get("deployments", "b")["spec"]["replicas"] == 3
