"""The composite actions install modelship from their own checkout, not from an index."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.harness.checkout import export_checkout
from tests.packaging.conftest import externally_managed_python, snapshot, uv_binary


def test_action_installs_modelship_from_its_own_checkout(tmp_path: Path) -> None:
    checkout = export_checkout(tmp_path / "action")
    venv = tmp_path / "runner-temp" / "venv"
    done = install_script(checkout, venv, tmp_path / "runner-temp")
    assert done.returncode == 0, done.stderr
    records = list(venv.glob("lib/python3*/site-packages/modelship_ci-*.dist-info/direct_url.json"))
    assert len(records) == 1, "modelship-ci is not installed in the action's venv"
    # PEP 610: where the installed distribution came from.
    origin = json.loads(records[0].read_text())
    assert origin["url"] == checkout.resolve().as_uri()
    version = subprocess.run(
        [str(venv / "bin" / "modelship"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("modelship ")


def test_action_bootstraps_uv_without_installing_into_an_externally_managed_python(
    tmp_path: Path,
) -> None:
    """A self-hosted runner with only the system python3 (PEP 668) and no uv."""
    python, site_folders = externally_managed_python()
    first = tmp_path / "bin"
    first.mkdir()
    (first / "python3").symlink_to(python)
    checkout = export_checkout(tmp_path / "action")
    venv = tmp_path / "runner-temp" / "venv"
    env = {
        **os.environ,
        "PATH": f"{first}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "MODELSHIP_VENV": str(venv),
    }
    before = snapshot(site_folders)
    done = subprocess.run(
        [str(checkout / "scripts" / "install-modelship.sh"), ""],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert snapshot(site_folders) == before
    assert (tmp_path / "runner-temp" / "modelship" / "uv" / "bin" / "uv").is_file()
    assert (venv / "bin" / "modelship").is_file()


def install_script(
    checkout: Path, venv: Path, runner_temp: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(uv_binary()).parent}{os.pathsep}/usr/bin:/bin",
        "RUNNER_TEMP": str(runner_temp),
        "MODELSHIP_VENV": str(venv),
    }
    return subprocess.run(
        [str(checkout / "scripts" / "install-modelship.sh"), ""],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_restored_environment_is_reused_only_when_built_from_the_same_source(
    tmp_path: Path,
) -> None:
    """A cached venv (actions/cache, a GitLab cache) skips the install when it came
    from this very checkout; after a code change, modelship itself is reinstalled."""
    checkout = export_checkout(tmp_path / "action")
    venv, runner_temp = tmp_path / "cache" / "venv", tmp_path / "runner-temp"
    first = install_script(checkout, venv, runner_temp)
    assert first.returncode == 0, first.stderr
    again = install_script(checkout, venv, runner_temp)
    assert again.returncode == 0, again.stderr
    assert "reusing" in again.stderr

    init = checkout / "src" / "modelship" / "__init__.py"
    init.write_text(init.read_text() + '\nSOURCE_MARK = "changed"\n')
    changed = install_script(checkout, venv, runner_temp)
    assert changed.returncode == 0, changed.stderr
    assert "reusing" not in changed.stderr
    seen = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import modelship; print(modelship.SOURCE_MARK)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert seen.stdout.strip() == "changed", seen.stderr
