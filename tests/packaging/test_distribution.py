"""The distribution `modelship-ci`: built, checked, installed into a fresh venv, run."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from modelship import __version__
from tests.harness.checkout import init_project
from tests.packaging.conftest import Distributions, uv_binary

# Nothing a user's install needs: the test suite, byte code, tool caches.
UNSHIPPED = ("tests/", "__pycache__/", ".pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache")


def _wheel_metadata(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(name).decode())
    return {key: str(value) for key, value in message.items()}


def test_distribution_is_named_modelship_ci_and_keeps_the_modelship_package(
    distributions: Distributions,
) -> None:
    assert distributions.wheel.name.startswith(f"modelship_ci-{__version__}-")
    assert distributions.sdist.name == f"modelship_ci-{__version__}.tar.gz"
    metadata = _wheel_metadata(distributions.wheel)
    assert metadata["Name"] == "modelship-ci"
    assert metadata["Version"] == __version__
    with zipfile.ZipFile(distributions.wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "modelship = modelship.cli:entrypoint" in archive.read(entry_points).decode()
    assert "modelship/cli.py" in names
    # Package data travels too: the serving image's template, the typing marker.
    assert "modelship/images/Containerfile.template" in names
    assert "modelship/py.typed" in names
    # The reports' templates, without which no stage can write its summary.
    for template in ("summary.md.j2", "summary.html.j2", "report.css", "drift/report.html.j2"):
        assert f"modelship/templates/{template}" in names


def test_distributions_pass_twine_check(distributions: Distributions) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "check",
            "--strict",
            str(distributions.sdist),
            str(distributions.wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_wheel_and_sdist_hold_no_tests_or_caches(distributions: Distributions) -> None:
    with zipfile.ZipFile(distributions.wheel) as archive:
        wheel_names = archive.namelist()
    with tarfile.open(distributions.sdist) as archive:
        # Names inside the sdist start with its `<name>-<version>/` folder.
        sdist_names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]
    for names in (wheel_names, sdist_names):
        shipped = [n for n in names if any(part in n for part in UNSHIPPED)]
        assert shipped == []
    assert "pyproject.toml" in sdist_names
    assert "src/modelship/cli.py" in sdist_names


def test_installed_wheel_runs_the_command_and_a_stage(
    distributions: Distributions, tmp_path: Path
) -> None:
    uv = uv_binary()
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            str(distributions.wheel),
        ],
        check=True,
        timeout=600,
    )
    command = venv / "bin" / "modelship"
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"modelship {__version__}"

    project = init_project(tmp_path / "project", {"README.md": "a model\n"})
    context = subprocess.run(
        [str(command), "context", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        # Outside any CI: the local platform, as a developer runs it.
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert context.returncode == 0, context.stderr
    outputs = json.loads(context.stdout)
    assert outputs["branch"] == "main"
    assert outputs["environment"] == "production"
    # The code ran from the wheel's install, not from this checkout.
    location = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import modelship; print(modelship.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert location.startswith(str(venv))
