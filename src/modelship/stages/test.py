"""`test`: run the project's tests and report them where reviewers look."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelship.ci.context import Result, StageContext
from modelship.spec import Input, Output, Stage
from modelship.stages.input_names import TestInput

if TYPE_CHECKING:
    from modelship.ci.junit import JUnitResult

STAGE = Stage(
    name="test",
    title="Project tests",
    description=(
        "Run the project's test command (pytest by default), write a JUnit report, "
        "summarise the results and annotate each failure."
    ),
    run="modelship.stages.test:run",
    gitlab_stage="test",
    inputs=(
        Input(
            "command",
            "Test command, run without a shell, e.g. `pytest -q tests/`.",
            default="pytest",
        ),
        Input(
            "working-directory",
            "Directory to run the command in, inside the workspace, e.g. `project/`.",
            type="path",
            default=".",
        ),
        Input(
            "junit-path",
            "Where the JUnit XML report is written (pytest gets `--junitxml`), "
            "e.g. `reports/junit.xml`.",
            type="path",
            default="reports/junit.xml",
        ),
        Input(
            "timeout",
            "Seconds before the test command is stopped, e.g. `1800`.",
            type="number",
            default="3600",
            kind="duration",
        ),
    ),
    outputs=(
        Output("passed", "`true` when every test passed."),
        Output("tests", "Number of tests run."),
        Output("failures", "Number of failed or errored tests."),
        Output("skipped", "Number of skipped tests."),
        Output("junit-path", "Path of the JUnit XML report."),
    ),
    example_with={"command": "pytest -q tests/"},
)


def run(ctx: StageContext[TestInput]) -> Result:
    from modelship.ci.errors import GateFailed
    from modelship.ci.junit import parse_junit
    from modelship.process import run_streaming, split_command

    argv = split_command(ctx.inputs.text("command"))
    workdir = ctx.path(ctx.inputs.text("working-directory") or ".", "input 'working-directory'")
    junit = ctx.path(ctx.inputs.text("junit-path"), "input 'junit-path'")
    junit.parent.mkdir(parents=True, exist_ok=True)
    junit.unlink(missing_ok=True)  # never report a stale file from an earlier run
    if _is_pytest(argv):
        argv = [*argv, f"--junitxml={junit}"]
    env = {**ctx.env, "MODELSHIP_JUNIT_PATH": str(junit)}

    with ctx.log.group(f"run {' '.join(argv)}"):
        done = run_streaming(argv, workdir, env, ctx.log, ctx.inputs.number("timeout"))
    if done.timed_out:
        ctx.summary.code(done.tail, title="last lines of output")
        raise GateFailed(f"the test command timed out after {done.seconds:.0f}s")
    if not junit.exists():
        ctx.summary.code(done.tail, title="last lines of output")
        if done.returncode != 0:
            raise GateFailed(
                f"the test command exited with {done.returncode} and wrote no JUnit report",
                f"check the command; a non-pytest command must write JUnit XML to {junit}",
            )
        raise GateFailed(f"the test command wrote no JUnit report at {junit}")
    report = parse_junit(junit, ctx.workspace)
    _report(ctx, report, done.seconds)
    return _verdict(report, done.returncode, str(junit.relative_to(ctx.workspace)), ctx)


def _report(ctx: StageContext[TestInput], report: JUnitResult, seconds: float) -> None:
    """The summary table, and one annotation per failing test at its file and line."""
    ctx.summary.table(
        ["tests", "passed", "failed", "skipped", "time"],
        [
            [
                report.tests,
                report.passed,
                report.failures + report.errors,
                report.skipped,
                f"{seconds:.1f}s",
            ]
        ],
    )
    if report.failed:
        ctx.summary.heading("Failing tests", 4)
        ctx.summary.table(["test", "message"], [[f.name, f.message] for f in report.failed])
    for failure in report.failed:
        ctx.log.annotate(
            "error", failure.message, file=failure.file, line=failure.line, title=failure.name
        )


def _verdict(
    report: JUnitResult, returncode: int, junit_path: str, ctx: StageContext[TestInput]
) -> Result:
    """Passed only when the command succeeded, tests ran and none failed (fail closed)."""
    failed = report.failures + report.errors
    passed = returncode == 0 and failed == 0 and report.tests > 0
    outputs = {
        "passed": passed,
        "tests": report.tests,
        "failures": failed,
        "skipped": report.skipped,
        "junit-path": junit_path,
    }
    if report.tests == 0:
        return Result(outputs, gate_failed="no tests ran: the test command collected nothing")
    if not passed:
        why = (
            f"{failed} of {report.tests} tests failed"
            if failed
            else (f"the test command exited with {returncode}")
        )
        return Result(outputs, gate_failed=why)
    ctx.log.info(f"{report.tests} tests: {report.passed} passed, {report.skipped} skipped")
    return Result(outputs)


def _is_pytest(argv: list[str]) -> bool:
    name = argv[0].rsplit("/", 1)[-1]
    if name in ("pytest", "py.test"):
        return True
    return len(argv) >= 3 and argv[1] == "-m" and argv[2] == "pytest"
