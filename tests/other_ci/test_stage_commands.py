"""The Jenkins and CircleCI examples, run stage by stage on the example project.

Each file's shell steps run in the order the file runs them, with the shell
each CI uses (Jenkins `sh -xe` in one workspace; CircleCI `bash -eo pipefail`
in a fresh clone per job, with the workspace it persists attached), against
the same set-up the GitHub pipeline test uses: the demo's project, a DVC
remote, MLflow on SQLite, deploy target `local`, image build context only.
Their outputs must match what the GitHub example pipeline produces under act.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from modelship.stages import load
from tests.harness.checkout import git
from tests.harness.demo import FirstPush, load_demo
from tests.other_ci.pipelines import (
    JENKINSFILE,
    CircleJob,
    Step,
    circleci_environment,
    circleci_jobs,
    jenkins_environment,
    jenkins_steps,
    load_circleci,
)

pytestmark = pytest.mark.e2e

# job -> stage, as the GitHub example names its jobs
JOBS = {
    "context": "context",
    "test": "test",
    "data": "data",
    "train": "train",
    "evaluate": "evaluate",
    "register": "register",
    "build": "build",
    "staging": "deploy",
    "production": "deploy",
    "promote": "promote",
}
# Outputs that the same code, data and seeds make equal on every CI.
STABLE = {
    "context": ("environment", "branch", "should-deploy", "is-release"),
    "test": ("passed", "tests", "failures", "skipped"),
    "data": ("data-version",),
    "train": ("metrics",),
    "evaluate": ("passed", "decision", "metrics", "champion-version"),
    "register": ("model-version", "created"),
    "build": (),  # the image's tag carries each run's own commit
    "deploy": ("status", "rolled-back"),
    "promote": ("model-version", "previous-version"),
}
# The GitHub example's context and data jobs keep no reports (their outputs
# reach later jobs through `needs` only); Jenkins and CircleCI are compared
# with each other there.
UNKEPT = ("context", "data")
# Outputs holding a JSON object of numbers.
NUMBERS = ("metrics",)
_LEAKY = ("GITHUB_", "GITLAB_", "CI_", "INPUT_", "MODELSHIP_", "RUNNER_", "MLFLOW_", "DVC_")


@dataclass
class PipelineRun:
    outputs: dict[str, dict[str, str]]  # job -> that job's stage outputs
    log: str
    demo: Any


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    return load_demo()


@pytest.fixture(scope="module")
def project_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the files' install step puts modelship and the project (made by that step)."""
    return tmp_path_factory.mktemp("other-ci-venv") / "venv"


def _environment(
    demo: ModuleType, state: Any, declared: Mapping[str, str], venv: Path, checkout: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY)}
    for name in ("CI", "VIRTUAL_ENV", "BASH_ENV"):
        env.pop(name, None)
    # jq and git from the system; uv (the install step prefers it) from this venv.
    env["PATH"] = f"{env.get('PATH', '/usr/bin:/bin')}{os.pathsep}{Path(sys.executable).parent}"
    env.update(declared)
    env.update(demo.settings(state))
    env["MODELSHIP_VENV"] = str(venv)
    env["MODELSHIP_INSTALL"] = f"{checkout}[all]"
    return env


def _run(argv: list[str], cwd: Path, env: Mapping[str, str], step: Step) -> str:
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    log = f"== {step.job}\n{done.stdout}{done.stderr}"
    if done.returncode != 0:
        raise AssertionError(f"{step.job} failed with {done.returncode}:\n{log[-12000:]}")
    return log


def _outputs(workspace: Path, stage: str) -> dict[str, str]:
    loaded = json.loads((workspace / ".modelship" / "outputs" / f"{stage}.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _prepared(demo: ModuleType, root: Path) -> Any:
    state = demo.Demo(root, "github", quiet=True)
    demo.prepare(state, checkout=False)
    return state


@pytest.fixture(scope="module")
def jenkins(
    demo: ModuleType,
    tmp_path_factory: pytest.TempPathFactory,
    modelship_checkout: Path,
    project_venv: Path,
) -> PipelineRun:
    text = JENKINSFILE.read_text(encoding="utf-8")
    state = _prepared(demo, tmp_path_factory.mktemp("jenkins"))
    env = _environment(demo, state, jenkins_environment(text), project_venv, modelship_checkout)
    env["BRANCH_NAME"] = "main"
    outputs, logs = {}, []
    for step in jenkins_steps(text):
        logs.append(_run(["sh", "-xe", "-c", step.script], state.project, env, step))
        if step.stage:
            outputs[step.job.lower()] = _outputs(state.project, step.stage)
    return PipelineRun(outputs, "".join(logs), state)


def _circleci_job(job: CircleJob, state: Any, store: Path, env: dict[str, str]) -> str:
    """One job as CircleCI runs it: checkout, attach the workspace, steps, persist."""
    workdir = state.workdir / "circleci-jobs" / job.name
    git(state.project, "clone", "-q", str(state.project), str(workdir))
    shutil.copytree(store, workdir, dirs_exist_ok=True, symlinks=True)
    bash_env = workdir.parent / f"{job.name}.bash_env"
    bash_env.write_text("", encoding="utf-8")
    logs = []
    for step in job.steps:
        argv = ["bash", "-eo", "pipefail", "-c", step.script]
        logs.append(_run(argv, workdir, {**env, "BASH_ENV": str(bash_env)}, step))
    for path in job.persist:
        source = workdir / path
        if source.is_dir():
            shutil.copytree(source, store / path, dirs_exist_ok=True)
        elif source.is_file():
            (store / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, store / path)
    return "".join(logs)


@pytest.fixture(scope="module")
def circleci(
    demo: ModuleType,
    tmp_path_factory: pytest.TempPathFactory,
    modelship_checkout: Path,
    project_venv: Path,
) -> PipelineRun:
    config = load_circleci()
    state = _prepared(demo, tmp_path_factory.mktemp("circleci"))
    env = _environment(demo, state, circleci_environment(config), project_venv, modelship_checkout)
    env["CIRCLE_BRANCH"] = "main"
    store = state.workdir / "circleci-workspace"
    store.mkdir()
    outputs, logs = {}, []
    for job in circleci_jobs(config):
        logs.append(_circleci_job(job, state, store, env))
        stage = next(s.stage for s in job.steps if s.stage)
        outputs[job.name] = _outputs(state.workdir / "circleci-jobs" / job.name, stage)
    return PipelineRun(outputs, "".join(logs), state)


@pytest.fixture(scope="module")
def github(github_first_push: FirstPush) -> PipelineRun:
    """The GitHub example pipeline's first push under act, as tests/pipeline checks it."""
    run = github_first_push.run.check()
    reports = github_first_push.reports
    outputs = {
        job: json.loads((reports / job / f"{stage}.json").read_text())
        for job, stage in JOBS.items()
        if job not in UNKEPT
    }
    return PipelineRun(outputs, run.output, github_first_push.demo)


def _quality(metrics: str) -> dict[str, float]:
    """The model's scores, without timings (`fit_seconds`), which no two runs share."""
    loaded = json.loads(metrics)
    return {k: v for k, v in loaded.items() if not k.endswith("_seconds")}


def _champion(state: Any) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(state.tracking_uri)
    return str(client.get_model_version_by_alias("breast-cancer", "champion").version)


@pytest.mark.parametrize("ci", ["jenkins", "circleci"])
def test_stage_commands_run_every_stage_and_promote_a_champion(
    ci: str, request: pytest.FixtureRequest
) -> None:
    run: PipelineRun = request.getfixturevalue(ci)
    assert list(run.outputs) == list(JOBS)
    assert run.outputs["evaluate"]["decision"] == "no-champion"
    assert run.outputs["staging"]["status"] == "succeeded"
    assert run.outputs["production"]["status"] == "succeeded"
    assert _champion(run.demo) == "1"
    containerfile = run.demo.workdir / "circleci-jobs" / "build" if ci == "circleci" else None
    context = (containerfile or run.demo.project) / "modelship-reports" / "image-context"
    assert (context / "Containerfile").is_file()


@pytest.mark.parametrize("ci", ["jenkins", "circleci"])
def test_stage_outputs_match_the_github_pipeline(
    ci: str, request: pytest.FixtureRequest, github: PipelineRun
) -> None:
    run: PipelineRun = request.getfixturevalue(ci)
    other: PipelineRun = request.getfixturevalue("circleci" if ci == "jenkins" else "jenkins")
    for job, stage in JOBS.items():
        declared = {output.name for output in load(stage).outputs}
        theirs = github.outputs[job] if job not in UNKEPT else other.outputs[job]
        ours = run.outputs[job]
        assert set(ours) == set(theirs), job
        assert set(ours) <= declared, job
        for name in STABLE[stage]:
            if name in NUMBERS:
                mine, reference = _quality(ours[name]), _quality(theirs[name])
                assert mine == pytest.approx(reference, rel=1e-9), f"{job}: {name}"
            else:
                assert ours.get(name) == theirs.get(name), f"{job}: {name}"
