"""Fixtures of the train stage's Kubernetes backend: the Kubernetes API test server
(whose Job pods can run a real training process) and a workspace with a training script."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.kube_server import KubeServer
from tests.fixtures.kube import kube_server
from tests.harness.checkout import git
from tests.harness.cli import host_env

IMAGE = "registry.local/churn-train:1"

# A small but real training: joins the run modelship opened (MLFLOW_RUN_ID), prints
# while it works, logs a metric, a parameter and a scikit-learn model.
TRAIN = """\
import os, sys, time
run_id = os.environ["MLFLOW_RUN_ID"]  # mlflow.start_run() takes it out of the environment
print("epoch 1 loss=0.9", flush=True)
time.sleep(float(os.environ.get("PAUSE", "0")))
import mlflow, mlflow.sklearn
from sklearn.linear_model import LogisticRegression
model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
with mlflow.start_run() as run:
    assert run.info.run_id == run_id, "not the run modelship opened"
    mlflow.log_metric("accuracy", 0.75)
    mlflow.log_param("cloud_key", os.environ.get("CLOUD_KEY", "none"))
    mlflow.sklearn.log_model(model, name="model")
print("epoch 2 loss=0.4", flush=True)
"""


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeServer]:
    directory = tmp_path / "kube"
    directory.mkdir()
    with kube_server(directory, namespaces=("default", "ml-training")) as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q", "-b", "feature/gpu")
    (root / "train.py").write_text(textwrap.dedent(TRAIN))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def pod_env(**extra: str) -> dict[str, str]:
    """The environment of the "image": this Python with mlflow and scikit-learn."""
    return host_env(**extra)
