"""Every choice of the pipeline, from the flags first and what was detected second.

The values end up in YAML and, on GitLab, in template inputs with a `regex`;
each is checked here against the same patterns, so a value the templates would
refuse is refused before anything is written, with the flag that fixes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from modelship.ci.errors import UsageError
from modelship.scaffold.detect import Repository, validation_candidate

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .-]{0,127}")
REPO_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
COMMAND = re.compile(r"[A-Za-z0-9_ ./:=,-]*")
BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}")
THRESHOLD = re.compile(r"[A-Za-z0-9_ .<>=*+-]+")
REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# The build template's `image` regex: a lower-case repository, optional registry port.
IMAGE = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*")
DEFAULT_THRESHOLDS = ("accuracy >= 0.90", "f1 >= champion - 0.02")
DEFAULT_TEST_COMMAND = "python -m pytest -q -p no:cacheprovider {folder}"


@dataclass(frozen=True)
class Options:
    """The flags of `modelship init`; None means "detect it"."""

    platform: str = "github"
    model_name: str | None = None
    target: str | None = None
    validation_data: str | None = None
    train_mode: str = "auto"
    train_command: str | None = None
    test_command: str | None = None
    requirements: str | None = None
    smoke_payload: str = "smoke.json"
    thresholds: tuple[str, ...] = ()
    branch: str | None = None
    templates_ref: str = "v1"
    image_name: str | None = None


@dataclass(frozen=True)
class Plan:
    platform: str
    model_name: str
    target: str
    validation_data: str
    train_mode: str  # dvc, mlflow or command
    train_command: str
    test_command: str  # "" for no test job
    install: str  # "requirements", "project" or ""
    requirements: str
    dvc: bool  # DVC manages data: a data job pulls and verifies it
    train_data: tuple[str, ...]  # what the train job pulls from the DVC remote
    validation_tracked: bool  # the validation data comes from the DVC remote
    smoke_payload: str
    thresholds: tuple[str, ...]
    branch: str
    templates_ref: str
    image_name: str  # GitLab: the serving image's repository


def _checked(value: str, pattern: re.Pattern[str], what: str, flag: str) -> str:
    if not pattern.fullmatch(value):
        raise UsageError(f"{what} {value!r} is not usable in a pipeline", f"pass {flag}")
    return value


def _repo_path(value: str, what: str, flag: str) -> str:
    _checked(value, REPO_PATH, what, flag)
    parts = PurePosixPath(value).parts
    if ".." in parts:
        raise UsageError(f"{what} {value!r} leaves the repository", f"pass {flag}")
    return value


def _model_name(options: Options, repo: Repository) -> str:
    if options.model_name is not None:
        return _checked(options.model_name, MODEL_NAME, "model name", "--model-name")
    name = repo.mlproject or repo.root.resolve().name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:128]
    if not cleaned:
        raise UsageError("no model name found", "pass --model-name NAME")
    return cleaned


def _train(options: Options, repo: Repository) -> tuple[str, str]:
    mode = options.train_mode
    if options.train_command:
        return "command", _checked(options.train_command, COMMAND, "command", "--train-command")
    if mode == "auto":
        mode = "dvc" if repo.dvc else "mlflow" if repo.mlproject is not None else "command"
    if mode == "dvc" and not repo.dvc:
        raise UsageError("--train-mode dvc needs a dvc.yaml", "add one or pick another mode")
    if mode == "mlflow" and repo.mlproject is None:
        raise UsageError("--train-mode mlflow needs an MLproject", "add one or pick another mode")
    if mode != "command":
        return mode, ""
    if not repo.train_script:
        raise UsageError("no training script, dvc.yaml or MLproject found", "pass --train-command")
    script = _repo_path(repo.train_script, "training script", "--train-command")
    return "command", f"python {script}"


def _validation(options: Options, repo: Repository) -> str:
    if options.validation_data is not None:
        return _repo_path(options.validation_data, "validation data", "--validation-data")
    found = validation_candidate(repo.data_files)
    if not found:
        raise UsageError("no validation data found", "pass --validation-data PATH")
    return _repo_path(found, "validation data", "--validation-data")


def _target(options: Options, repo: Repository) -> str:
    value = options.target if options.target is not None else repo.label
    if not value:
        raise UsageError("no label column found in params, metrics or data", "pass --target NAME")
    return _checked(value, LABEL, "label column", "--target")


def _tests(options: Options, repo: Repository) -> str:
    if options.test_command is not None:
        return _checked(options.test_command, COMMAND, "test command", "--test-command")
    if not repo.tests:
        return ""
    return DEFAULT_TEST_COMMAND.format(folder=_repo_path(repo.tests, "tests", "--test-command"))


def _install(options: Options, repo: Repository) -> tuple[str, str]:
    if options.requirements is not None:
        if not options.requirements:
            return "", ""
        return "requirements", _repo_path(options.requirements, "requirements", "--requirements")
    if repo.requirements:
        return "requirements", repo.requirements
    return ("project", "") if repo.pyproject_installable else ("", "")


def _tracked(path: str) -> str:
    """A data file DVC manages: the train job names it, so it must be a plain path."""
    if not REPO_PATH.fullmatch(path) or ".." in PurePosixPath(path).parts:
        raise UsageError(f"DVC output {path!r} is not usable in a pipeline", "rename it")
    return path


def _image_name(options: Options, model_name: str) -> str:
    if options.image_name is not None:
        return _checked(options.image_name, IMAGE, "image name", "--image-name")
    default = f"registry.example.com/ml/{model_name.lower()}"
    return _checked(default, IMAGE, "image name", "--image-name")


def plan(options: Options, repo: Repository) -> Plan:
    train_mode, train_command = _train(options, repo)
    validation = _validation(options, repo)
    install, requirements = _install(options, repo)
    thresholds = options.thresholds or DEFAULT_THRESHOLDS
    for rule in thresholds:
        _checked(rule, THRESHOLD, "threshold", "--threshold 'metric >= value'")
    branch = options.branch or repo.default_branch or "main"
    model_name = _model_name(options, repo)
    return Plan(
        platform=options.platform,
        model_name=model_name,
        target=_target(options, repo),
        validation_data=validation,
        train_mode=train_mode,
        train_command=train_command,
        test_command=_tests(options, repo),
        install=install,
        requirements=requirements,
        dvc=repo.dvc or bool(repo.dvc_tracked),
        train_data=tuple(_tracked(path) for path in repo.dvc_tracked),
        validation_tracked=validation in repo.dvc_tracked,
        smoke_payload=_repo_path(options.smoke_payload, "smoke payload", "--smoke-payload"),
        thresholds=tuple(thresholds),
        branch=_checked(branch, BRANCH, "branch", "--branch"),
        templates_ref=_checked(options.templates_ref, REF, "templates ref", "--templates-ref"),
        image_name=_image_name(options, model_name),
    )
