"""The generated actions and templates are current and keep the security rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from modelship.dev.generate import main as generate
from modelship.stages import STAGES, all_stages

ROOT = Path(__file__).resolve().parents[2]


def test_committed_generated_files_are_current() -> None:
    assert generate(["--check", "--root", str(ROOT)]) == 0, "run `make generate` and commit"


def test_check_notices_a_stale_file(tmp_path: Path) -> None:
    assert generate(["--root", str(tmp_path)]) == 0
    action = tmp_path / "actions" / "context" / "action.yml"
    action.write_text(action.read_text() + "\n# edited by hand\n")
    assert generate(["--check", "--root", str(tmp_path)]) == 1


def _actions() -> list[Path]:
    return [ROOT / "action.yml", *sorted((ROOT / "actions").glob("*/action.yml"))]


@pytest.mark.parametrize("path", _actions(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_expression_inside_run(path: Path) -> None:
    action = yaml.safe_load(path.read_text())
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), f"{path}: expression inside run:"


@pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.name)
def test_every_input_reaches_the_code_through_env(stage: object) -> None:
    from modelship.spec import Stage

    assert isinstance(stage, Stage)
    action = yaml.safe_load((ROOT / "actions" / stage.name / "action.yml").read_text())
    env = action["runs"]["steps"][-1]["env"]
    for item in stage.inputs:
        assert env[f"INPUT_{item.env_name}"] == f"${{{{ inputs.{item.name} }}}}"
    assert set(action["inputs"]) == {i.name for i in stage.inputs}
    assert set(action["outputs"]) == {o.name for o in stage.outputs}


@pytest.mark.parametrize("stage", list(STAGES))
def test_gitlab_template_never_interpolates_inputs_into_script(stage: str) -> None:
    header, body = yaml.safe_load_all((ROOT / "gitlab-templates" / f"{stage}.yml").read_text())
    typed = {
        name
        for name, entry in header["spec"]["inputs"].items()
        if entry.get("type") in ("boolean", "number")
    }
    for job in body.values():
        for line in job["script"]:
            # Only inputs GitLab has validated as true/false or a number may
            # appear in script text; free text travels as variables.
            for used in re.findall(r"\$\[\[\s*inputs\.([a-z0-9-]+)", line):
                assert used in typed, f"{stage}: free-text input {used!r} in script"
    spec = header["spec"]["inputs"]
    from modelship.dev.generate import job_image_input
    from modelship.stages import load

    job_image = job_image_input(load(stage))
    assert {"stage", "job-prefix", job_image, "install"} <= set(spec)
    for name in ("job-prefix", job_image, "install"):
        assert "regex" in spec[name]


def test_gitlab_types_follow_the_declaration() -> None:
    header, _ = yaml.safe_load_all((ROOT / "gitlab-templates" / "test.yml").read_text())
    timeout = header["spec"]["inputs"]["timeout"]
    assert (timeout["type"], timeout["default"]) == ("number", 3600)
