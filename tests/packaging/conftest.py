"""Fixtures of the packaging tests: the built distributions, fresh environments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.checkout import export_checkout

# A user's PATH without this machine's own Python installations in it.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Distributions:
    sdist: Path
    wheel: Path


def uv_binary() -> str:
    """uv from the test environment (the `test` extra installs it)."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed (pip install 'modelship-ci[test]')")
    return found


@pytest.fixture(scope="session")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> Distributions:
    """The sdist and the wheel, built by `python -m build` from a clean checkout.

    `build` makes the wheel from the unpacked sdist, so a file the sdist
    forgets breaks the wheel too."""
    source = export_checkout(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(out), str(source)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    sdists = sorted(out.glob("*.tar.gz"))
    wheels = sorted(out.glob("*.whl"))
    assert len(sdists) == 1, sdists
    assert len(wheels) == 1, wheels
    return Distributions(sdists[0], wheels[0])


SYSTEM_PYTHONS = ("/usr/bin/python3",)

PROBE = """
import site, sys, sysconfig
from pathlib import Path
managed = Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").is_file()
print(managed and sys.prefix == sys.base_prefix)
for path in [*site.getsitepackages(), site.getusersitepackages()]:
    print(path)
"""


def externally_managed_python() -> tuple[Path, list[Path]]:
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


def snapshot(folders: list[Path]) -> dict[str, float]:
    """Every file and folder in the interpreter's install locations, with its mtime."""
    seen: dict[str, float] = {}
    for folder in folders:
        if folder.is_dir():
            for path in folder.rglob("*"):
                seen[str(path)] = path.lstat().st_mtime
    return seen
