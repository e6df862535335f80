"""Fixtures of the pipeline tests: the demo's own preparation of the example project."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

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


@pytest.fixture(scope="session")
def demo() -> ModuleType:
    return load_demo()
