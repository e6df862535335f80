"""Fixtures for the Kubernetes API test server's own fidelity tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kube_server import KubeServer
from tests.fixtures.kube import kube  # noqa: F401  (re-exported fixture)
from tests.harness.http import JsonHandler, LoopbackServer


@pytest.fixture
def k8s(kube: KubeServer) -> Iterator[Any]:  # noqa: F811
    """(apps, core, batch, autoscaling) API objects of the official client, bound to the server."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(kube.kubeconfig))

    class Clients:
        apps = client.AppsV1Api(api_client)
        core = client.CoreV1Api(api_client)
        batch = client.BatchV1Api(api_client)
        autoscaling = client.AutoscalingV2Api(api_client)
        raw = api_client

    yield Clients
    api_client.close()


class Kubectl:
    def __init__(self, kube: KubeServer, cache: Path) -> None:  # noqa: F811
        self.kube = kube
        self.cache = cache

    def __call__(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["kubectl", f"--kubeconfig={self.kube.kubeconfig}", f"--cache-dir={self.cache}", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)


@pytest.fixture
def kubectl(kube: KubeServer, tmp_path: Path) -> Kubectl:  # noqa: F811
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    return Kubectl(kube, tmp_path / "kubectl-cache")


class _EchoServer(LoopbackServer):
    def __init__(self, name: str) -> None:
        super().__init__(_Echo)
        self.name = name


class _Echo(JsonHandler):
    protocol_version = "HTTP/1.1"
    server: _EchoServer

    def _answer(self) -> None:
        answer = {
            "backend": self.server.name,
            "method": self.command,
            "path": self.path,
            "body": self.read_body().decode(),
            "authorization": self.headers.get("Authorization"),
        }
        self.send_json(200, answer)

    do_GET = _answer
    do_POST = _answer


@pytest.fixture
def echo_backend() -> Iterator[Any]:
    """Start loopback HTTP servers that echo what they receive: call it with a name, get a URL."""
    servers: list[_EchoServer] = []

    def start(name: str) -> str:
        servers.append(_EchoServer(name).start())
        return servers[-1].url

    yield start
    for srv in servers:
        srv.stop()


def deployment(
    name: str = "model", image: str = "registry.local/model:1", replicas: int = 2, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "model", "image": image, "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
            **spec,
        },
    }


def service(name: str = "model") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }


def raw_request(
    server: KubeServer,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    *,
    token: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, decoded JSON) of one request, bypassing client-side validation."""
    import urllib.error
    import urllib.request

    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    req = urllib.request.Request(
        server.url + path,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {server.token if token is None else token}",
            "Content-Type": content_type,
        },
    )
    try:
        with urllib.request.urlopen(req, context=server.ssl_context(), timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")
