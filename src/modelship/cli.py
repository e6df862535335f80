"""`modelship <stage> --input value ...`: argument parsing and lazy dispatch.

`main(argv, env, cwd) -> int` is what tests call; nothing here imports a stage
module until that stage is asked for, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from modelship import __version__
from modelship.ci.errors import EXIT_USAGE
from modelship.stages import STAGES

TOOLS = {
    "init": "Write the ML pipeline for this repository (GitHub workflow or .gitlab-ci.yml).",
    "lineage": "Print the lineage record of a model version, run, image or deployment.",
    "dev": "Developer commands: `modelship dev generate [--check]`.",
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage, which is already our usage exit code.

    Its message quotes what was typed; that text is neutralised like any log
    line, so an argument cannot start a workflow command on its own line.
    """

    def error(self, message: str) -> NoReturn:
        from modelship.ci.log import inert_line, neutralise
        from modelship.ci.redact import redact_urls_in_text

        self.print_usage(sys.stderr)
        line = inert_line(neutralise(redact_urls_in_text(f"{self.prog}: error: {message}")))
        self.exit(EXIT_USAGE, line + "\n")


def _top_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="modelship",
        description="CI/CD building blocks for machine-learning projects.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="stages:\n"
        + "\n".join(f"  {name:<10} {text}" for name, text in STAGES.items())
        + "\n\ntools:\n"
        + "\n".join(f"  {name:<10} {text}" for name, text in TOOLS.items())
        + "\n\nRun `modelship <stage> --help` for a stage's inputs.",
    )
    parser.add_argument("--version", action="version", version=f"modelship {__version__}")
    parser.add_argument("command", nargs="?", help="a stage or tool (see below)")
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    common = parser.add_argument_group("output")
    common.add_argument("--json", action="store_true", help="print the outputs as JSON on stdout")
    common.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="text (coloured, default) or json (one object per line)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _stage_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    from modelship.stages import load

    stage = load(name)
    parser = _Parser(
        prog=f"modelship {stage.name}",
        description=stage.description,
        epilog="Each input can also come from INPUT_<NAME> or MODELSHIP_<NAME> "
        "(upper case, '-' as '_'). Outputs: " + ", ".join(o.name for o in stage.outputs) + ".",
    )
    group = parser.add_argument_group("inputs")
    for item in stage.inputs:
        help_text = item.description.replace("%", "%%")
        if item.default:
            help_text += f" (default: {item.default!r})".replace("%", "%%")
        if item.options:
            help_text += f" [{'|'.join(item.options)}]"
        kwargs: dict[str, object] = {"dest": item.name, "default": None, "help": help_text}
        if item.type == "boolean":
            kwargs.update(nargs="?", const="true", metavar="true|false")
        else:
            kwargs["metavar"] = item.type.upper()
        group.add_argument(item.flag, **kwargs)  # type: ignore[arg-type]
    _add_common(parser)
    return parser, stage


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    if not args or args[0] in ("-h", "--help", "--version"):
        try:
            _top_parser().parse_args(args or ["--help"])
        except SystemExit as done:
            return int(done.code or 0)
        return 0
    command, rest = args[0], args[1:]
    try:
        if command == "dev":
            from modelship.dev.commands import main as dev_main

            return dev_main(rest)
        if command == "init":
            from modelship.scaffold.command import main as init_main

            return init_main(rest, env, cwd, stdout, stderr)
        if command == "lineage":
            from modelship.lineage_cli import main as lineage_main

            return lineage_main(rest, env, cwd, stdout, stderr)
        if command not in STAGES:
            (stderr or sys.stderr).write(
                f"modelship: unknown command {command!r}; "
                f"choose one of {', '.join([*STAGES, *TOOLS])}\n"
            )
            return EXIT_USAGE
        parser, stage = _stage_parser(command)
        namespace = parser.parse_args(rest)
    except SystemExit as done:
        return int(done.code or 0)

    from modelship.ci.runner import RunOptions, run_stage
    from modelship.spec import Stage

    assert isinstance(stage, Stage)
    values = vars(namespace)
    options = RunOptions(
        json_output=bool(values.pop("json")),
        log_format=values.pop("log_format") or env.get("MODELSHIP_LOG_FORMAT", "text"),  # type: ignore[arg-type]
        verbose=bool(values.pop("verbose")) or env.get("RUNNER_DEBUG") == "1",
    )
    if options.log_format not in ("text", "json"):
        (stderr or sys.stderr).write("modelship: MODELSHIP_LOG_FORMAT must be text or json\n")
        return EXIT_USAGE
    return run_stage(stage, values, env, cwd, options, stdout, stderr)


def entrypoint() -> None:
    sys.exit(main())
