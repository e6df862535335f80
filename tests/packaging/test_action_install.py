"""The composite actions install modelship from their own checkout, not from an index."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.harness.checkout import export_checkout
from tests.packaging.conftest import uv_binary


def test_action_installs_modelship_from_its_own_checkout(tmp_path: Path) -> None:
    checkout = export_checkout(tmp_path / "action")
    venv = tmp_path / "runner-temp" / "venv"
    env = {
        **os.environ,
        "PATH": f"{Path(uv_binary()).parent}{os.pathsep}/usr/bin:/bin",
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "MODELSHIP_VENV": str(venv),
    }
    done = subprocess.run(
        [str(checkout / "scripts" / "install-modelship.sh"), ""],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
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
