"""The Role docs/kubernetes.md tells users to grant is enough for every deploy strategy.

Runs `modelship deploy` against the test server with the token restricted to
exactly that Role: a deploy that needed one more permission would get a 403
here as it would on a cluster.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.kube import kube_server
from tests.harness.http import JsonHandler, LoopbackServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md"


def documented_role() -> dict[str, Any]:
    for block in re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.DOTALL):
        for doc in yaml.safe_load_all(block):
            if isinstance(doc, dict) and doc.get("kind") == "Role":
                return doc
    raise AssertionError("docs/kubernetes.md has no Role")


class _Model(JsonHandler):
    def do_POST(self) -> None:
        self.read_body()
        self.send_json(200, {"predictions": [0, 1]})

    def do_GET(self) -> None:
        self.send_bytes(200, b"")


@pytest.fixture
def model_url() -> Iterator[str]:
    with LoopbackServer(_Model) as server:
        yield server.url


def _deploy(
    tmp: Path, kubeconfig: Path, namespace: str, image: str, strategy: str, timeout: str = "60s"
) -> int:
    from modelship.cli import main

    args = [
        "deploy", "--image", image, "--model-name", "churn", "--environment", "staging",
        "--namespace", namespace, "--kubeconfig", str(kubeconfig), "--strategy", strategy,
        "--smoke-payload", '[{"a": 1}, {"a": 2}]', "--smoke-expect", "[0, 1]",
        "--timeout", timeout,
    ]  # fmt: skip
    return main(args, env={"PATH": "", "HOME": str(tmp)}, cwd=tmp,
                stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip


@pytest.mark.parametrize("strategy", ["rolling", "canary", "blue-green"])
def test_deploy_needs_no_more_than_the_documented_role(
    tmp_path: Path, model_url: str, strategy: str
) -> None:
    pytest.importorskip("modelship.kube")
    role = documented_role()
    namespace = role["metadata"]["namespace"]
    with kube_server(tmp_path, namespaces=(namespace,), namespace=namespace) as kube:
        for image in ("registry.local/churn:1", "registry.local/churn:2"):
            kube.set_backend(image, model_url)
        kube.mark_image_broken("registry.local/churn:bad")
        kube.restrict(role, user="system:serviceaccount:ml-staging:modelship-deploy")
        assert (
            _deploy(tmp_path, kube.kubeconfig, namespace, "registry.local/churn:1", strategy) == 0
        )
        assert (
            _deploy(tmp_path, kube.kubeconfig, namespace, "registry.local/churn:2", strategy) == 0
        )
        failed = _deploy(
            tmp_path, kube.kubeconfig, namespace, "registry.local/churn:bad", strategy, "3s"
        )
        assert failed == 1  # a failed rollout, rolled back with the same permissions
        forbidden = [f"{r.method} {r.path}" for r in kube.requests if r.status == 403]
        # reading the namespace itself is the one documented, tolerated denial (and shows
        # the restriction is in force)
        assert f"GET /api/v1/namespaces/{namespace}" in forbidden
        assert [f for f in forbidden if f != f"GET /api/v1/namespaces/{namespace}"] == []
