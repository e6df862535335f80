"""evaluate, register and promote talk to the tracking server they are given, and only to it."""

from __future__ import annotations

import os

import mlflow
import pytest

from modelship import tracking
from tests.evaluate.conftest import Case, run_cli

pytestmark = pytest.mark.services


def test_stages_leave_mlflow_process_wide_settings_alone(case: Case) -> None:
    """A stage run in-process (tests, a notebook, another tool) must not redirect what
    the rest of the process talks to: MLflow's global URIs and the environment stay."""
    elsewhere = f"sqlite:///{case.workspace / 'elsewhere.db'}"
    mlflow.set_tracking_uri(elsewhere)
    mlflow.set_registry_uri(elsewhere)
    before = dict(os.environ)

    case.champion("weak")
    evaluated = case.evaluate("strong", "--thresholds", "f1 >= champion")
    assert evaluated.code == 0, evaluated.stderr
    args = ["--model-name", case.name]
    registered = run_cli(
        ["register", "--model-uri", case.models.uris["strong"], *args], case.env, case.workspace
    )
    assert registered.code == 0, registered.stderr
    version = registered.outputs["model-version"]
    promoted = run_cli(["promote", "--version", version, *args], case.workspace, case.env)
    assert promoted.code == 0, promoted.stderr

    assert mlflow.get_tracking_uri() == elsewhere
    assert mlflow.get_registry_uri() == elsewhere
    # The client's bounded HTTP retries are the one setting MLflow only reads from the
    # environment; nothing else may appear or change.
    after = {k: v for k, v in os.environ.items() if k not in tracking.BOUNDED_RETRIES}
    assert after == {k: v for k, v in before.items() if k not in tracking.BOUNDED_RETRIES}
    assert not (case.workspace / "elsewhere.db").exists()
