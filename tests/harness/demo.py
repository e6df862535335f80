"""The demo's own preparation of the example project, and the first push of
the GitHub example pipeline that several test folders check."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.harness.runners import Run, run_act

DEMO_PATH = Path(__file__).resolve().parents[2] / "workflows-examples" / "demo.py"


def load_demo() -> ModuleType:
    """`workflows-examples/demo.py` as a module: the tests prepare projects exactly as it does."""
    if "modelship_demo" in sys.modules:
        return sys.modules["modelship_demo"]
    spec = importlib.util.spec_from_file_location("modelship_demo", DEMO_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["modelship_demo"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class FirstPush:
    """The example pipeline's first push to main under act, on the host."""

    demo: Any  # the demo's state: project, tracking store, reports folder
    run: Run
    # The reports as this push left them: a later push to the same project
    # (a worse model) replaces the demo's reports folder.
    reports: Path


def first_github_push(workdir: Path, checkout: Path, venv: Path) -> FirstPush:
    demo = load_demo()
    state = demo.Demo(workdir, "github", quiet=True)
    demo.prepare(state, checkout=False)
    run = run_act(
        state.project,
        checkout,
        event="push",
        workflow=".github/workflows/ml-pipeline.yml",
        variables=demo.settings(state),
        venv=venv,
        timeout=1800,
    )
    reports = workdir / "first-push-reports"
    shutil.copytree(state.reports, reports)
    return FirstPush(state, run, reports)
