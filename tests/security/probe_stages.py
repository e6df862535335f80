"""Stage bodies that misbehave on purpose, to test what the runner makes of them."""

from __future__ import annotations

from modelship.ci.context import Result, StageContext
from modelship.spec import Input, Output, Stage

LEAKY_URL = "http://admin:S3cretProbe@tracking.example:5000/api"


def raise_bug(ctx: StageContext) -> Result:
    raise RuntimeError(f"unexpected state while talking to {LEAKY_URL}\nsecond line")


def raise_library_error(ctx: StageContext) -> Result:
    import requests

    raise requests.ConnectionError(f"Max retries exceeded with url {LEAKY_URL}")


def report_outside_text(ctx: StageContext) -> Result:
    value = ctx.inputs.text("value")
    ctx.log.info(f"metrics pushed to {value}")
    ctx.summary.text(f"pushed to {value}")
    ctx.summary.table(["where"], [[value]])
    return Result({"answer": value})


def mask_inside_a_fence(ctx: StageContext) -> Result:
    with ctx.log.fenced() as write:
        write("command output\n")
        ctx.log.mask("late-secret-value")
        write("more output late-secret-value\n")
    return Result({"answer": "ok"})


def _stage(run: str) -> Stage:
    return Stage(
        name="probe",
        title="probe",
        description="probe",
        inputs=(Input("value", "Any text.", default=""),),
        outputs=(Output("answer", "What the stage returned."),),
        run=f"tests.security.probe_stages:{run}",
    )


BUG = _stage("raise_bug")
LIBRARY_ERROR = _stage("raise_library_error")
OUTSIDE_TEXT = _stage("report_outside_text")
LATE_MASK = _stage("mask_inside_a_fence")
