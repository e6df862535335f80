"""What `modelship init` writes passes the checks modelship's own pipelines pass:
actionlint, zizmor (pedantic), GitHub's workflow schema, GitLab's CI schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.checkout import REPO_ROOT, init_project
from tests.init.conftest import SHAPES, run_init

BIN = Path(sys.executable).parent


def _run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=False, timeout=300
    )


@pytest.fixture(params=sorted(SHAPES))
def github_workflow(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    repo = init_project(tmp_path / str(request.param), SHAPES[str(request.param)])
    assert run_init(repo).code == 0
    return repo / ".github" / "workflows" / "ml-pipeline.yml"


@pytest.fixture(params=sorted(SHAPES))
def gitlab_pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    repo = init_project(tmp_path / str(request.param), SHAPES[str(request.param)])
    assert run_init(repo, "--platform", "gitlab").code == 0
    return repo / ".gitlab-ci.yml"


def test_generated_workflow_passes_actionlint(github_workflow: Path) -> None:
    done = _run(BIN / "actionlint", github_workflow)
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_workflow_passes_zizmor_pedantic(github_workflow: Path) -> None:
    done = _run(BIN / "zizmor", "--offline", "--persona=pedantic", github_workflow)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_generated_workflow_matches_githubs_schema(github_workflow: Path) -> None:
    done = _run(
        BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", github_workflow
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_gitlab_pipeline_passes_the_template_checks(gitlab_pipeline: Path) -> None:
    check = REPO_ROOT / "tests" / "tools" / "check_gitlab_templates.py"
    done = _run(sys.executable, check, gitlab_pipeline)
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_gitlab_inputs_match_the_templates_specs(gitlab_pipeline: Path) -> None:
    """Every input the pipeline passes exists in that template's spec and fits its regex."""
    import re

    import yaml

    pipeline = yaml.safe_load(gitlab_pipeline.read_text(encoding="utf-8"))
    for item in pipeline["include"]:
        name = item["remote"].rsplit("/", 1)[1]
        header = next(
            yaml.safe_load_all((REPO_ROOT / "gitlab-templates" / name).read_text("utf-8"))
        )
        spec = header["spec"]["inputs"]
        for key, value in item["inputs"].items():
            assert key in spec, f"{name} has no input {key}"
            pattern = spec[key].get("regex")
            if pattern and not str(value).startswith("$"):
                assert re.search(pattern, str(value)), f"{name}: {key}={value!r} fails {pattern}"
            if "options" in spec[key]:
                assert value in spec[key]["options"], f"{name}: {key}={value!r}"
