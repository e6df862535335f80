"""`modelship dev has-extras`: the templates skip their install only when the
`modelship` on the job's PATH can run the stage."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

from modelship.dev.extras import EXTRA_MODULES, main


def test_this_installation_has_every_extra() -> None:
    assert main(list(EXTRA_MODULES)) == 0


def test_an_unknown_extra_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mlfow"]) == 2
    assert "unknown extra 'mlfow'" in capsys.readouterr().err


def test_a_core_only_installation_says_the_extra_is_missing(tmp_path: Path) -> None:
    # A bare interpreter with modelship's source on its path but none of the extras.
    env_dir = tmp_path / "bare"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    src = Path(__file__).resolve().parents[2] / "src"
    code = (
        f"import sys; sys.path.insert(0, {str(src)!r}); "
        "from modelship.dev.extras import main; sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run([str(python), "-c", code, "mlflow"], check=False)
    assert done.returncode == 1
    none = subprocess.run([str(python), "-c", code], check=False)
    assert none.returncode == 0, "a stage without extras needs nothing more"
