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
from tests.packaging.conftest import SYSTEM_PATH

SYSTEM_PYTHONS = ("/usr/bin/python3",)

PROBE = """
import site, sys, sysconfig
from pathlib import Path
managed = Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").is_file()
print(managed and sys.prefix == sys.base_prefix)
for path in [*site.getsitepackages(), site.getusersitepackages()]:
    print(path)
"""


def _externally_managed_python() -> tuple[Path, list[Path]]:
    """An interpreter marked EXTERNALLY-MANAGED, and the folders it installs into."""
    for candidate in SYSTEM_PYTHONS:
        if not Path(candidate).exists():
            continue
        lines = subprocess.run(
            [candidate, "-c", PROBE], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        if lines[0] == "True":
            return Path(candidate), [Path(line) for line in lines[1:]]
    pytest.skip("no externally managed system python3 on this machine (Debian 12, Ubuntu 24.04)")


def _snapshot(folders: list[Path]) -> dict[str, float]:
    """Every file and folder in the interpreter's install locations, with its mtime."""
    seen: dict[str, float] = {}
    for folder in folders:
        if folder.is_dir():
            for path in folder.rglob("*"):
                seen[str(path)] = path.lstat().st_mtime
    return seen


def test_make_venv_with_an_externally_managed_python_installs_nothing_into_it(
    tmp_path: Path,
) -> None:
    python, site_folders = _externally_managed_python()
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    # The system python3 first on PATH, as on a fresh machine.
    first = tmp_path / "bin"
    first.mkdir()
    (first / "python3").symlink_to(python)
    home = tmp_path / "home"
    home.mkdir()
    checkout = export_checkout(tmp_path / "checkout")
    before = _snapshot(site_folders)
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
    assert _snapshot(site_folders) == before
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
