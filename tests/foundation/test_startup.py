"""`--help` stays fast: no heavy library is imported for it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from modelship.stages import STAGES

HEAVY = (
    "mlflow",
    "pandas",
    "numpy",
    "scipy",
    "kubernetes",
    "docker",
    "dvc",
    "sklearn",
    "pyarrow",
    "rich",
    "jinja2",
)

PROBE = """
import json, sys
from modelship.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], *[[stage, "--help"] for stage in STAGES]])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True
    )
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert not modules & set(HEAVY), f"{argv} imported {sorted(modules & set(HEAVY))}"
    assert "usage: modelship" in done.stdout
