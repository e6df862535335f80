"""`modelship init`: write the pipeline for the repository in the current folder.

It asks nothing: every choice has a flag, and what is not given is detected.
It prints what it found and what it wrote; an existing pipeline file is
replaced only with `--force` (otherwise exit 2 and nothing is written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from modelship.ci.errors import EXIT_EXTERNAL, EXIT_OK, EXIT_USAGE, UsageError
from modelship.scaffold.detect import Repository, detect
from modelship.scaffold.plan import Options, Plan, plan
from modelship.scaffold.render import PIPELINE_PATHS, render_github, render_gitlab
from modelship.scaffold.smoke import smoke_payload
from modelship.scaffold.write import NewFile, inside, write_files


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage, which is already our usage exit code."""


def parser() -> argparse.ArgumentParser:
    cli = _Parser(
        prog="modelship init",
        description="Write the ML pipeline (GitHub workflow or .gitlab-ci.yml) for this "
        "repository, from what it holds: dvc.yaml, MLproject, a training script, "
        "requirements, tests, data files.",
    )
    add = cli.add_argument
    add("--platform", choices=("github", "gitlab"), default="github", help="CI to write for")
    add("--directory", type=Path, default=None, help="the repository (default: this folder)")
    add("--model-name", help="registered model and experiment (default: MLproject name or folder)")
    add("--target", help="label column of the validation data (default: from params/metrics/data)")
    add("--validation-data", help="validation data file, e.g. data/validation.csv")
    add("--train-mode", choices=("auto", "dvc", "mlflow", "command"), default="auto")
    add("--train-command", help="training command, e.g. 'python train.py' (implies command mode)")
    add("--test-command", help="test command ('' for no test job; default: pytest on tests/)")
    add("--requirements", help="requirements file ('' to install nothing)")
    add(
        "--smoke-payload", default="smoke.json", help="smoke-test request file (default smoke.json)"
    )
    add(
        "--threshold",
        action="append",
        default=[],
        dest="thresholds",
        help="an evaluation gate rule, repeatable, e.g. 'f1 >= champion - 0.02'",
    )
    add("--branch", help="the default branch (default: the checked-out one, else main)")
    add("--templates-ref", default="v1", help="GitLab: modelship release of the templates")
    add("--image-name", help="GitLab: serving image repository, e.g. registry.example.com/acme/m")
    add("--force", action="store_true", help="replace an existing pipeline file")
    return cli


def _found(repo: Repository) -> list[str]:
    lines = []
    if repo.dvc:
        lines.append("dvc.yaml: a DVC pipeline")
    if repo.dvc_tracked:
        lines.append("DVC-tracked data " + ", ".join(repo.dvc_tracked[:5]))
    if repo.mlproject is not None:
        lines.append("MLproject" + (f" (name {repo.mlproject})" if repo.mlproject else ""))
    if repo.train_script:
        lines.append(f"training script {repo.train_script}")
    if repo.requirements:
        lines.append(f"requirements {repo.requirements}")
    if repo.pyproject_installable:
        lines.append("pyproject.toml with a [project] table")
    if repo.tests:
        lines.append(f"tests in {repo.tests}")
    if repo.data_files:
        shown = ", ".join(repo.data_files[:5]) + (" ..." if len(repo.data_files) > 5 else "")
        lines.append(f"data files {shown}")
    if repo.label:
        lines.append(f"label column {repo.label} (named in {repo.label_source})")
    return lines or ["nothing that modelship knows"]


def _chosen(chosen: Plan) -> list[str]:
    train = (
        chosen.train_command or {"dvc": "dvc repro", "mlflow": "mlflow run ."}[chosen.train_mode]
    )
    return [
        f"model {chosen.model_name}, label column {chosen.target}",
        f"train with {train}; evaluate on {chosen.validation_data}",
        f"test with {chosen.test_command}" if chosen.test_command else "no test job",
    ]


def _files(chosen: Plan, repo: Repository) -> tuple[list[NewFile], str]:
    pipeline = render_github(chosen) if chosen.platform == "github" else render_gitlab(chosen)
    files = [NewFile(PIPELINE_PATHS[chosen.platform], pipeline, replaceable=True)]
    note = ""
    if not inside(repo.root, chosen.smoke_payload).exists():
        validation = inside(repo.root, chosen.validation_data)
        text, has_rows = smoke_payload(validation, chosen.target)
        files.append(NewFile(chosen.smoke_payload, text, replaceable=False))
        note = " (rows from the validation data)" if has_rows else " (a skeleton: add rows)"
    return files, note


def run(argv: Sequence[str], cwd: Path, out: TextIO) -> int:
    args = parser().parse_args(list(argv))
    root = (args.directory if args.directory is not None else cwd).resolve()
    if not root.is_dir():
        raise UsageError(f"{args.directory} is not a folder")
    repo = detect(root)
    options = Options(
        platform=args.platform,
        model_name=args.model_name,
        target=args.target,
        validation_data=args.validation_data,
        train_mode=args.train_mode,
        train_command=args.train_command,
        test_command=args.test_command,
        requirements=args.requirements,
        smoke_payload=args.smoke_payload,
        thresholds=tuple(args.thresholds),
        branch=args.branch,
        templates_ref=args.templates_ref,
        image_name=args.image_name,
    )
    out.write(f"modelship init: {root}\nfound:\n")
    out.writelines(f"  {line}\n" for line in _found(repo))
    chosen = plan(options, repo)
    out.write("pipeline:\n")
    out.writelines(f"  {line}\n" for line in _chosen(chosen))
    files, smoke_note = _files(chosen, repo)
    written = write_files(root, files, force=args.force)
    out.write("wrote:\n")
    for path in written:
        out.write(f"  {path}{smoke_note if path == chosen.smoke_payload else ''}\n")
    out.write("next: set MLFLOW_TRACKING_URI as a CI variable, then commit and push.\n")
    return EXIT_OK


def main(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    del env  # nothing here reads the environment; kept for the common signature
    try:
        return run(argv, cwd or Path.cwd(), stdout or sys.stdout)
    except SystemExit as done:
        return int(done.code or 0)
    except UsageError as error:
        (stderr or sys.stderr).write(f"error: {error.line()}\n")
        return EXIT_USAGE
    except OSError as error:  # the file system refused a write: not the user's input
        (stderr or sys.stderr).write(f"error: cannot write the pipeline: {error.strerror}\n")
        return EXIT_EXTERNAL
