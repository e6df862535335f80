"""Fixtures of the deploy area: a real MLflow model, one scoring server for the session.

Starting `mlflow models serve` costs tens of seconds on a small runner, so the
session starts one, through the deploy stage's own `local` target with
`keep-running`, and every smoke test (and the Kubernetes service proxy's
backend) reuses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.cli import run_cli

MODEL_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": np.arange(20, dtype=float), "b": np.arange(20, dtype=float)[::-1]})
    y = (X.a > 10).astype(int)
    model = LogisticRegression().fit(X, y)
    mlflow.sklearn.save_model(
        model, sys.argv[1], input_example=X.head(2), pip_requirements=["scikit-learn"]
    )
    """
)

# Rows of the model's input and what it predicts for them.
PAYLOAD = '[{"a": 1.0, "b": 18.0}, {"a": 15.0, "b": 4.0}]'
PAYLOAD_CSV = "a,b\n1.0,18.0\n15.0,4.0\n"
EXPECTED = "[0, 1]"


@dataclass
class Run:
    code: int
    outputs: dict[str, str]
    stdout: str
    stderr: str
    workspace: Path
    files: dict[str, str] = field(default_factory=dict)

    def report(self) -> str:
        path = self.workspace / "modelship-reports" / "deploy.md"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def everything(self) -> str:
        """All a user or a later job can see: logs, outputs, reports, output files."""
        parts = [self.stdout, self.stderr, json.dumps(self.outputs)]
        for path in self.workspace.rglob("*"):
            if path.is_file() and path.suffix in (".md", ".html", ".json", ".env", ".txt", ".yaml"):
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)


def run_deploy(workspace: Path, args: list[str], env: Mapping[str, str] | None = None) -> Run:
    """Run `modelship deploy` as a user would, in `workspace`, with a clean CI-less env."""
    base = {"PATH": os.environ.get("PATH", ""), "MLFLOW_TRACKING_URI": ""}
    done = run_cli(["deploy", *args], workspace, {**base, **(env or {})}, json_outputs=True)
    out = done.stdout
    outputs: dict[str, str] = {}
    local = workspace / ".modelship" / "outputs" / "deploy.json"
    if out.strip():
        outputs = json.loads(out.strip().splitlines()[-1])
    elif local.exists():
        outputs = json.loads(local.read_text(encoding="utf-8"))
    return Run(done.code, outputs, out, done.stderr, workspace)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small scikit-learn model saved in MLflow format (a path is a model URI)."""
    target = tmp_path_factory.mktemp("model") / "model"
    subprocess.run([sys.executable, "-c", MODEL_SCRIPT, str(target)], check=True, timeout=300)
    return target


@dataclass(frozen=True)
class ScoringServer:
    endpoint: str
    pid: int
    run: Run


@pytest.fixture(scope="session")
def scoring_server(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScoringServer]:
    """The deploy stage's local target, kept running: the session's one scoring server."""
    from modelship.deploy import local as serving

    workspace = tmp_path_factory.mktemp("local-ws")
    result = run_deploy(
        workspace,
        [
            "--target",
            "local",
            "--model-uri",
            str(model_dir),
            "--keep-running",
            "true",
            "--smoke-payload",
            PAYLOAD,
            "--smoke-expect",
            EXPECTED,
            "--timeout",
            "5m",
        ],
    )
    pid = int(result.outputs.get("serving") or 0)
    try:
        assert result.code == 0, result.stderr
        yield ScoringServer(result.outputs["endpoint"], pid, result)
    finally:
        if pid:
            serving.stop(pid)


def kubeconfig_for(server: str, token: str = "t0ken-abcdef") -> str:  # noqa: S107
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "ctx",
        }
    )


IMAGE_V1 = "registry.local/churn:1"
IMAGE_V2 = "registry.local/churn:2"
IMAGE_V3 = "registry.local/churn:3"


@pytest.fixture
def cluster(tmp_path: Path, scoring_server: ScoringServer) -> Iterator[Any]:
    """The Kubernetes API test server; images v1 and v2 are served by the real model."""
    from tests.fixtures.kube import kube_server

    directory = tmp_path / "kube"
    directory.mkdir()
    with kube_server(directory, namespaces=("ml",), namespace="ml") as server:
        server.set_backend(IMAGE_V1, scoring_server.endpoint)
        server.set_backend(IMAGE_V2, scoring_server.endpoint)
        yield server
