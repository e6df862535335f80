"""The stages, by name, in pipeline order.

Only names and one-line descriptions live here, so `modelship --help` imports
no stage module; a stage's module is imported when it is asked for.
"""

from __future__ import annotations

import importlib

from modelship.spec import Stage

# name -> one-line description. A stage is listed once its module exists.
STAGES: dict[str, str] = {
    "context": "Branch strategy to environment, version, image tag and should-deploy.",
    "test": "Run the project's tests, write a JUnit report, annotate failures.",
    "data": "Pull and verify DVC-tracked data; publish its fingerprint (data-version).",
    "train": "Train inside an MLflow run with lineage tags; publish run, model URI, metrics.",
    "evaluate": "Candidate vs champion on validation data: threshold and significance gates.",
    "register": "Register a model version once, with lineage tags and an alias.",
    "build": "Build the model-serving image with lineage labels (Docker, Buildah, Podman).",
    "deploy": "Deploy to Kubernetes (smoke test, rollback, canary, blue-green) or locally.",
    "promote": "Move the champion alias to a version; keep the previous one for rollback.",
    "monitor": "Data and prediction drift, Prometheus metrics, alerts and the retrain flag.",
}


def load(name: str) -> Stage:
    module = importlib.import_module(f"modelship.stages.{name.replace('-', '_')}")
    stage: Stage = module.STAGE
    return stage


def all_stages() -> list[Stage]:
    return [load(name) for name in STAGES]
