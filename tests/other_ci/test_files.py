"""The Jenkins and CircleCI examples as files: schema, stages, safe shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.other_ci.pipelines import (
    CIRCLECI,
    JENKINSFILE,
    circleci_jobs,
    jenkins_steps,
    load_circleci,
)

GITHUB_STAGES = ["context", "test", "data", "train", "evaluate", "register", "build"]
GITHUB_STAGES += ["deploy", "deploy", "promote"]


def test_circleci_file_matches_circlecis_schema() -> None:
    check = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(check), "--builtin-schema", "vendor.circle-ci", str(CIRCLECI)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_jenkins_runs_the_github_pipelines_stages_in_its_order() -> None:
    steps = jenkins_steps(JENKINSFILE.read_text(encoding="utf-8"))
    assert [s.stage for s in steps if s.stage] == GITHUB_STAGES


def test_circleci_runs_the_github_pipelines_stages_in_its_order() -> None:
    jobs = circleci_jobs(load_circleci())
    assert [next(s.stage for s in job.steps if s.stage) for job in jobs] == GITHUB_STAGES


def test_every_stage_prints_its_outputs_as_json() -> None:
    steps = jenkins_steps(JENKINSFILE.read_text(encoding="utf-8"))
    steps += [s for job in circleci_jobs(load_circleci()) for s in job.steps]
    for step in steps:
        if step.stage:
            assert step.script.rstrip().endswith("--json"), step.job


def test_scripts_pass_shellcheck() -> None:
    """Each step as the shell that runs it: POSIX sh on Jenkins, bash on CircleCI."""
    steps = [("sh", s) for s in jenkins_steps(JENKINSFILE.read_text(encoding="utf-8"))]
    steps += [("bash", s) for job in circleci_jobs(load_circleci()) for s in job.steps]
    for shell, step in steps:
        done = subprocess.run(
            ["shellcheck", "--shell", shell, "-"],
            input=step.script,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{step.job}:\n{done.stdout}"
