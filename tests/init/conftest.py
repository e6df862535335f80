"""Three differently shaped user repositories, made in temporary folders, and
`modelship init` run on them in-process as a user would run it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelship.cli import main
from tests.harness.checkout import init_project

VALIDATION_CSV = "radius,texture,diagnosis\n14.2,20.1,1\n11.0,17.5,0\n13.1,19.9,1\n"

DVC_REPO = {
    "dvc.yaml": (
        "stages:\n"
        "  prepare:\n"
        "    cmd: python prepare.py\n"
        "    outs:\n"
        "      - data/train.csv\n"
        "      - data/validation.csv\n"
        "  train:\n"
        "    cmd: python fit.py\n"
        "    deps: [fit.py, data/train.csv]\n"
        "    metrics:\n"
        "      - metrics.json:\n"
        "          cache: false\n"
    ),
    "params.yaml": "prepare:\n  seed: 1\ntrain:\n  target: diagnosis\n  C: 0.5\n",
    "prepare.py": "print('prepare')\n",
    "fit.py": "print('fit')\n",
    "requirements.txt": "scikit-learn\nmlflow\n",
    "tests/test_fit.py": "def test_nothing():\n    assert True\n",
}

MLPROJECT_REPO = {
    "MLproject": (
        "name: churn-model\n"
        "python_env: python_env.yaml\n"
        "entry_points:\n"
        "  main:\n"
        "    parameters:\n"
        "      label_column: {type: string, default: churned}\n"
        "      alpha: {type: float, default: 0.1}\n"
        "    command: python main.py --label {label_column} --alpha {alpha}\n"
    ),
    "main.py": "print('train')\n",
    "pyproject.toml": '[project]\nname = "churn"\nversion = "0.1"\ndependencies = ["mlflow"]\n',
    "data/holdout.csv": "tenure,charges,churned\n3,20.5,1\n40,80.0,0\n",
    "data/train.csv": "tenure,charges,churned\n5,25.0,1\n",
    "tests/test_main.py": "def test_nothing():\n    assert True\n",
}

SCRIPT_REPO = {
    "train.py": "print('train')\n",
    "requirements.txt": "scikit-learn\n",
    "data/val.csv": "a,b,label\n1.5,2,0\n3.5,4,1\n",
    "data/train.csv": "a,b,label\n1.0,2,0\n",
}

SHAPES = {"dvc": DVC_REPO, "mlproject": MLPROJECT_REPO, "script": SCRIPT_REPO}


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_init(repo: Path, *args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(["init", *args], {}, repo, out, err)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(params=sorted(SHAPES))
def shaped_repo(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    name = str(request.param)
    return name, init_project(tmp_path / name, SHAPES[name])


def make_repo(tmp_path: Path, shape: str, **extra: str) -> Path:
    return init_project(tmp_path / shape, {**SHAPES[shape], **extra})
