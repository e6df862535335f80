"""Run one stage: inputs in, outputs and reports out, one exit code."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from modelship.ci.context import Result, StageContext
from modelship.ci.errors import EXIT_EXTERNAL, EXIT_GATE, EXIT_OK, ExternalError, ModelshipError
from modelship.ci.failures import describe
from modelship.ci.inputs import Inputs, resolve_raw
from modelship.ci.log import LogFormat, Logger
from modelship.ci.outputs import publish_local, publish_platform, render_value
from modelship.ci.platform import Platform
from modelship.ci.redact import SECRET_ENV, secrets_from_url, urls_in_text
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
    mask_up_front(stage, flags, env, cwd, log)

    summary = Summary(title=f"modelship {stage.name}")
    try:
        inputs = Inputs.read(stage, flags, env, cwd)
        ctx = StageContext(stage, inputs, platform, log, summary, env, cwd)
        runner = stage.load_runner()
        result = runner(ctx)
        for secret in result.secrets:
            log.mask(secret)
        # Like the Actions runner, never hand a secret on to the next job.
        outputs = {k: log.redact(v) for k, v in _checked_outputs(stage, result).items()}
    except KeyboardInterrupt:
        log.error(f"{stage.name}: interrupted")
        return 130
    except Exception as err:  # every failure: one line, one exit code, no traceback
        failure = describe(err, stage.name)
        log.error(failure.line)
        _write_summary(platform, summary, stage, log)
        return failure.exit_code

    published = _publish(platform, stage, outputs, options, stdout, log)
    _write_summary(platform, summary, stage, log)
    if published != EXIT_OK:
        return published
    if result.gate_failed:
        log.error(result.gate_failed)
        return EXIT_GATE
    return EXIT_OK


def mask_up_front(
    stage: Stage, flags: Mapping[str, str | None], env: Mapping[str, str], cwd: Path, log: Logger
) -> None:
    """Mask every secret an input or the environment carries, before any other line.

    Secret inputs are masked whole (and what they contain, see `Logger.mask`),
    the password of any URL in any input, the tracking server's credentials
    from the environment, and the credentials of a kubeconfig input's file.
    """
    for item in stage.inputs:
        raw = resolve_raw(item, flags, env).value or ""
        if item.secret and raw:
            log.mask(raw)
        for url in urls_in_text(raw):
            for secret in secrets_from_url(url):
                log.mask(secret)
        if item.kind == "kubeconfig":
            for text in kubeconfig_files(raw, env, cwd):
                log.mask(text)
    for url in urls_in_text(env.get("MLFLOW_TRACKING_URI", "")):
        for secret in secrets_from_url(url):
            log.mask(secret)
    for name in SECRET_ENV:
        if env.get(name):
            log.mask(env[name])


def _publish(
    platform: Platform,
    stage: Stage,
    outputs: dict[str, str],
    options: RunOptions,
    stdout: TextIO,
    log: Logger,
) -> int:
    """Outputs to every destination; one that cannot be written does not lose the others.

    The local JSON and `--json` come first, so the values survive a
    `$GITHUB_OUTPUT` or dotenv path that cannot be written.
    """
    code = EXIT_OK
    try:
        publish_local(platform, stage.name, outputs)
    except OSError as err:
        log.error(f"cannot write the local outputs file: {describe(err, stage.name).line}")
        code = EXIT_EXTERNAL
    if options.json_output:
        stdout.write(json.dumps(outputs, ensure_ascii=False) + "\n")
        stdout.flush()
    try:
        publish_platform(platform, stage.name, outputs)
    except ModelshipError as err:
        log.error(err.line())
        code = err.exit_code
    except (OSError, UnicodeError) as err:
        what = "GITHUB_OUTPUT file" if platform.name == "github" else "GitLab dotenv report"
        log.error(
            f"cannot write the {what}: {describe(err, stage.name).line} "
            "(the outputs are in the --json output and .modelship/outputs)"
        )
        code = EXIT_EXTERNAL
    return code


def _checked_outputs(stage: Stage, result: Result) -> dict[str, str]:
    declared = {o.name for o in stage.outputs}
    unknown = set(result.outputs) - declared
    if unknown:
        raise RuntimeError(f"stage {stage.name} returned undeclared outputs {sorted(unknown)}")
    try:
        return {name: render_value(value) for name, value in result.outputs.items()}
    except ValueError as err:
        raise ExternalError(f"{stage.name}: an output could not be written: {err}") from None


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
    except (OSError, UnicodeError) as err:
        log.warning(f"could not write the {stage.name} report: {describe(err, stage.name).line}")


def kubeconfig_files(value: str, env: Mapping[str, str], cwd: Path) -> Iterator[str]:
    """The content of the kubeconfig file a kubeconfig input points at, if any.

    Inline content is masked as the input itself; a path (or `$KUBECONFIG`,
    or `~/.kube/config` when the input is empty) is read here, only to mask
    the credentials inside before anything is printed.
    """
    if value and ("\n" in value or len(value) > 1024):
        return
    if value:
        candidates = [Path(value).expanduser()]
    else:
        first = env.get("KUBECONFIG", "").split(os.pathsep)[0]
        candidates = [Path(first)] if first else []
        candidates.append(Path(env.get("HOME", "~")).expanduser() / ".kube" / "config")
    for path in candidates:
        path = path if path.is_absolute() else cwd / path
        try:
            if path.is_file():
                yield path.read_text(encoding="utf-8", errors="replace")
                return
        except (OSError, ValueError):
            continue
