"""`make venv` on a machine whose python3 is the system's, externally managed (PEP 668).

The bootstrap must make its own environments (`.tools/venv` with uv, then
`.venv`) and leave the system interpreter exactly as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness.checkout import export_checkout
from tests.packaging.conftest import SYSTEM_PATH, externally_managed_python, snapshot


def test_make_venv_with_an_externally_managed_python_installs_nothing_into_it(
    tmp_path: Path,
) -> None:
    python, site_folders = externally_managed_python()
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    # The system python3 first on PATH, as on a fresh machine.
    first = tmp_path / "bin"
    first.mkdir()
    (first / "python3").symlink_to(python)
    home = tmp_path / "home"
    home.mkdir()
    checkout = export_checkout(tmp_path / "checkout")
    before = snapshot(site_folders)
    done = subprocess.run(
        ["make", "--no-print-directory", "venv"],
        cwd=checkout,
        env={**os.environ, "PATH": f"{first}{os.pathsep}{SYSTEM_PATH}", "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot(site_folders) == before
    # uv lives in the project's tools environment, and made the project's venv
    # from the system interpreter.
    assert (checkout / ".tools" / "venv" / "bin" / "uv").is_file()
    base = [str(checkout / ".venv" / "bin" / "python"), "-c", "import sys; print(sys.base_prefix)"]
    system_prefix = subprocess.run(
        [str(python), "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True
    ).stdout
    assert subprocess.run(base, capture_output=True, text=True).stdout == system_prefix
    version = subprocess.run(
        [str(checkout / ".venv" / "bin" / "modelship"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert version.returncode == 0, version.stderr
