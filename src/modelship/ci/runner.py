"""Run one stage: inputs in, outputs and reports out, one exit code."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from modelship.ci.context import Result, StageContext
from modelship.ci.errors import EXIT_EXTERNAL, EXIT_GATE, EXIT_OK, ModelshipError
from modelship.ci.inputs import Inputs, resolve_raw
from modelship.ci.log import LogFormat, Logger
from modelship.ci.outputs import publish, render_value
from modelship.ci.platform import Platform
from modelship.ci.summary import Summary, append_step_summary, write_reports
from modelship.spec import Stage


@dataclass(frozen=True)
class RunOptions:
    json_output: bool = False
    log_format: LogFormat = "text"
    verbose: bool = False


def run_stage(
    stage: Stage,
    flags: Mapping[str, str | None],
    env: Mapping[str, str],
    cwd: Path,
    options: RunOptions = RunOptions(),
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdout = stdout if stdout is not None else sys.stdout
    platform = Platform.detect(env, cwd)
    log = Logger(platform.name, options.log_format, stderr, options.verbose, stage.name)

    # Secrets are masked before anything else is printed, validation errors included.
    for item in stage.inputs:
        if item.secret:
            raw = resolve_raw(item, flags, env).value
            if raw:
                log.mask(raw)

    summary = Summary(title=f"modelship {stage.name}")
    try:
        inputs = Inputs.read(stage, flags, env)
        ctx = StageContext(stage, inputs, platform, log, summary, env, cwd)
        runner = stage.load_runner()
        result = runner(ctx)
        for secret in result.secrets:
            log.mask(secret)
        outputs = _checked_outputs(stage, result)
    except ModelshipError as err:
        log.error(err.line())
        _write_summary(platform, summary, stage, log)
        return err.exit_code
    except KeyboardInterrupt:
        log.error(f"{stage.name}: interrupted")
        return 130
    except Exception as err:  # a bug in modelship: show it, redacted, and say so
        log.untrusted(traceback.format_exc())
        log.error(
            f"{stage.name}: unexpected error {type(err).__name__}: {err} "
            "(this is a bug in modelship; please report it with the log above)"
        )
        return EXIT_EXTERNAL

    publish(platform, stage.name, outputs)
    _write_summary(platform, summary, stage, log)
    if options.json_output:
        stdout.write(json.dumps(outputs, ensure_ascii=False) + "\n")
        stdout.flush()
    if result.gate_failed:
        log.error(result.gate_failed)
        return EXIT_GATE
    return EXIT_OK


def _checked_outputs(stage: Stage, result: Result) -> dict[str, str]:
    declared = {o.name for o in stage.outputs}
    unknown = set(result.outputs) - declared
    if unknown:
        raise RuntimeError(f"stage {stage.name} returned undeclared outputs {sorted(unknown)}")
    return {name: render_value(value) for name, value in result.outputs.items()}


def _write_summary(platform: Platform, summary: Summary, stage: Stage, log: Logger) -> None:
    if not summary.blocks:
        return
    try:
        markdown = log.redact(summary.render_markdown())
        redacted = Summary(summary.title, summary.blocks)
        write_reports(redacted, platform.workspace / "modelship-reports", stage.name)
        # Redact the written files too: blocks may hold secret text.
        for suffix in (".md", ".html"):
            path = platform.workspace / "modelship-reports" / f"{stage.name}{suffix}"
            path.write_text(log.redact(path.read_text(encoding="utf-8")), encoding="utf-8")
        target = platform.env.get("GITHUB_STEP_SUMMARY")
        if platform.name == "github" and target:
            append_step_summary(Path(target), markdown)
    except OSError as err:
        log.warning(f"could not write the {stage.name} report: {err}")
