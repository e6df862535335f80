"""The stage commands of the Jenkins and CircleCI examples, read from the files.

Nothing here restates a command: the tests run what the files say, in the
order the files run it, so a broken command in a file fails a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
JENKINSFILE = REPO_ROOT / "workflows-examples" / "jenkins" / "Jenkinsfile"
CIRCLECI = REPO_ROOT / "workflows-examples" / "circleci" / "config.yml"

_STAGE = re.compile(r"stage\('([^']+)'\)")
_SH = re.compile(r"sh '''\n(.*?)\n\s*'''", re.S)
_GROOVY_ENV = re.compile(r"^\s*([A-Z_]+) = '([^']*)'\s*$", re.M)


@dataclass(frozen=True)
class Step:
    """One shell step: the job or stage it belongs to and its script."""

    job: str
    script: str

    @property
    def stage(self) -> str | None:
        """The modelship stage the step runs, if any."""
        found = re.search(r"\bmodelship ([a-z]+)\b", self.script)
        return found.group(1) if found else None


@dataclass(frozen=True)
class CircleJob:
    name: str
    steps: list[Step]
    persist: list[str] = field(default_factory=list)


def jenkins_steps(text: str) -> list[Step]:
    """Every `sh '''...'''` of the Jenkinsfile, in file order, with its stage."""
    steps = []
    for match in _SH.finditer(text):
        stages = _STAGE.findall(text[: match.start()])
        script = match.group(1)
        # Groovy would rewrite backslashes in a ''' string; the file uses none.
        assert "\\" not in script, f"backslash in the {stages[-1]} stage's sh block"
        steps.append(Step(stages[-1], script))
    return steps


def jenkins_environment(text: str) -> dict[str, str]:
    """The literal values of the `environment { }` block."""
    block = text[text.index("environment {") : text.index("}", text.index("environment {"))]
    return dict(_GROOVY_ENV.findall(block))


def _expand(steps: list[Any], commands: dict[str, Any]) -> list[Any]:
    expanded: list[Any] = []
    for step in steps:
        name = step if isinstance(step, str) else next(iter(step))
        if name in commands:
            expanded += _expand(commands[name]["steps"], commands)
        else:
            expanded.append(step)
    return expanded


def circleci_jobs(config: dict[str, Any]) -> list[CircleJob]:
    """The workflow's jobs in their listed order, reusable commands expanded."""
    commands = config.get("commands", {})
    jobs = []
    for entry in next(iter(config["workflows"].values()))["jobs"]:
        name = entry if isinstance(entry, str) else next(iter(entry))
        settings = {} if isinstance(entry, str) else entry[name]
        if settings.get("type") == "approval":
            continue
        steps, persist = [], []
        for step in _expand(config["jobs"][name]["steps"], commands):
            if isinstance(step, dict) and "run" in step:
                run = step["run"]
                steps.append(Step(name, run if isinstance(run, str) else run["command"]))
            elif isinstance(step, dict) and "persist_to_workspace" in step:
                persist += step["persist_to_workspace"]["paths"]
        jobs.append(CircleJob(name, steps, persist))
    return jobs


def circleci_environment(config: dict[str, Any]) -> dict[str, str]:
    executor = next(iter(config["executors"].values()))
    return {k: str(v) for k, v in executor.get("environment", {}).items()}


def load_circleci() -> dict[str, Any]:
    loaded = yaml.safe_load(CIRCLECI.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded
