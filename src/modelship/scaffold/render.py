"""Fill the pipeline templates under `templates/<platform>/`.

Two kinds of placeholder. `<<name>>` takes one value, written as a JSON string
or list (valid YAML, every character escaped, so no value can add a key or a
line); `<<'name'>>` writes it as a single-quoted string of a GitHub expression.
A line holding only `<<@fragment>>` takes another template file of the same
folder, indented like the placeholder, or nothing when the plan leaves that
part out. The result is parsed back with `yaml.safe_load` before anyone
sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import resources

import yaml

from modelship.scaffold.plan import Plan

SCALAR = re.compile(r"<<('?)([a-z_]+)\1>>")
BLOCK = re.compile(r"(?m)^([ ]*)<<@([a-z_]+)>>\n")
STAGE_TEMPLATES = ("context", "test", "data", "train", "evaluate", "register", "build")
TEMPLATES_BASE = "https://raw.githubusercontent.com/modelship/modelship/{ref}/gitlab-templates"
PIPELINE_PATHS = {"github": ".github/workflows/ml-pipeline.yml", "gitlab": ".gitlab-ci.yml"}


def _template(platform: str, name: str) -> str:
    folder = resources.files("modelship.scaffold").joinpath("templates").joinpath(platform)
    return folder.joinpath(name).read_text(encoding="utf-8")


def fill(platform: str, name: str, blocks: Mapping[str, str], values: Mapping[str, object]) -> str:
    """The template `name` with its fragments expanded and its values written in."""

    def expand(text: str) -> str:
        def block(match: re.Match[str]) -> str:
            fragment = blocks[match.group(2)]
            if not fragment:
                return ""
            body = expand(_template(platform, fragment))
            indent = match.group(1)
            return "".join(
                f"{indent}{line}" if line.strip() else line
                for line in body.splitlines(keepends=True)
            )

        return BLOCK.sub(block, text)

    def value(match: re.Match[str]) -> str:
        given = values[match.group(2)]
        if match.group(1):  # `<<'name'>>`: a string literal of a GitHub expression
            return "'" + str(given).replace("'", "''") + "'"
        return json.dumps(given)

    text = SCALAR.sub(value, expand(_template(platform, name)))
    if not isinstance(yaml.safe_load(text), dict):
        raise AssertionError(f"template {platform}/{name} did not render to a mapping")
    return text


def _install_fragment(plan: Plan) -> str:
    return {"requirements": "install-requirements.yml", "project": "install-project.yml"}.get(
        plan.install, ""
    )


def _common_values(plan: Plan) -> dict[str, object]:
    return {
        "model_name": plan.model_name,
        "target": plan.target,
        "validation_data": plan.validation_data,
        "thresholds": "\n".join(plan.thresholds),
        "smoke_payload": plan.smoke_payload,
        "requirements": plan.requirements,
        "test_command": plan.test_command,
        "train_command": plan.train_command,
        "branch_environments": f"{plan.branch}=production,*=development",
    }


def render_github(plan: Plan) -> str:
    upstream = [
        "context",
        *(["test"] if plan.test_command else []),
        *(["data"] if plan.dvc else []),
    ]
    blocks = {
        "test_job": "test-job.yml" if plan.test_command else "",
        "data_job": "data-job.yml" if plan.dvc else "",
        "install_step": _install_fragment(plan),
        "train_data_step": "pull-train-data.yml" if plan.train_data else "",
        "train_inputs": f"train-{plan.train_mode}.yml",
        "train_data_version": "train-data-version.yml" if plan.dvc else "",
        "validation_data_step": "pull-validation-data.yml" if plan.validation_tracked else "",
        "keep_reports": "keep-reports.yml",
    }
    values = {
        **_common_values(plan),
        "branch": plan.branch,
        "branch_ref": f"refs/heads/{plan.branch}",
        "train_needs": upstream,
        "evaluate_needs": ["train"],
        "train_targets": ",".join(plan.train_data),
    }
    return fill("github", "ml-pipeline.yml", blocks, values)


def render_gitlab(plan: Plan) -> str:
    upstream = ["modelship-context"]
    upstream += ["modelship-test"] if plan.test_command else []
    upstream += ["modelship-data"] if plan.dvc else []
    base = TEMPLATES_BASE.format(ref=plan.templates_ref)
    blocks = {
        "test_include": "test-include.yml" if plan.test_command else "",
        "data_include": "data-include.yml" if plan.dvc else "",
        # The test job needs an override only to install the project first.
        "test_job": "test-job.yml" if plan.test_command and plan.install else "",
        "data_job": "data-job.yml" if plan.dvc else "",
        "install_script": _install_fragment(plan),
        "train_inputs": f"train-{plan.train_mode}.yml",
    }
    values: dict[str, object] = {
        **_common_values(plan),
        "image_name": plan.image_name,
        "train_needs": upstream,
        "evaluate_needs": ["modelship-train", *(["modelship-data"] if plan.dvc else [])],
        "data_artifacts": ["modelship-reports/", ".modelship/outputs/", *plan.train_data],
    }
    for stage in (*STAGE_TEMPLATES, "deploy", "promote"):
        values[f"templates_url_{stage}"] = f"{base}/{stage}.yml"
    return fill("gitlab", "gitlab-ci.yml", blocks, values)
