"""What reaches the log: masks first, annotations, fenced untrusted text, JSON lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

from modelship.ci.log import Logger
from modelship.ci.summary import Summary, truncate_for_step_summary
from tests.harness.cli import run_cli


def test_every_line_of_a_secret_is_masked_and_redacted() -> None:
    stream = io.StringIO()
    log = Logger("github", stream=stream)
    log.mask("line-one-secret\nline-two-secret")
    log.info("token is line-two-secret")
    out = stream.getvalue()
    assert out.index("::add-mask::line-one-secret") < out.index("token is")
    assert "::add-mask::line-two-secret" in out
    assert "token is ***" in out


def test_untrusted_text_cannot_issue_workflow_commands() -> None:
    stream = io.StringIO()
    log = Logger("github", stream=stream)
    log.untrusted("::add-path::/evil\n::set-env name=X::y")
    lines = stream.getvalue().splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) == 32
    assert lines[1:3] == ["::add-path::/evil", "::set-env name=X::y"]
    assert lines[3] == f"::{token}::"


def test_annotation_data_is_escaped() -> None:
    stream = io.StringIO()
    Logger("github", stream=stream).annotate("error", "50% done\nnext", file="a,b.py", line=3)
    assert stream.getvalue().strip() == "::error file=a%2Cb.py,line=3::50%25 done%0Anext"


def test_json_log_format_is_one_object_per_line(tmp_path: Path) -> None:
    from tests.harness.checkout import init_project

    project = init_project(tmp_path / "p", {"a": "b"})
    run = run_cli(["context", "--log-format", "json"], project)
    assert run.code == 0
    records = [json.loads(line) for line in run.stderr.splitlines()]
    assert records
    assert all(r["stage"] == "context" for r in records)
    assert all("msg" in r for r in records)


def test_secret_is_masked_before_a_validation_error_prints(tmp_path: Path) -> None:
    from modelship.ci.runner import run_stage
    from modelship.spec import Input, Stage

    stage = Stage(
        name="s",
        title="s",
        description="s",
        run="modelship.stages.context:run",
        inputs=(Input("token", "t", secret=True), Input("n", "n", type="number")),
        outputs=(),
    )
    err = io.StringIO()
    code = run_stage(
        stage,
        {},
        {"GITHUB_ACTIONS": "true", "INPUT_TOKEN": "s3cr3t-value", "INPUT_N": "s3cr3t-value"},
        tmp_path,
        stderr=err,
    )
    assert code == 2
    text = err.getvalue()
    assert text.startswith("::add-mask::s3cr3t-value")
    assert "s3cr3t-value" not in text.split("\n", 1)[1]


def test_step_summary_is_truncated_with_a_visible_note() -> None:
    summary = Summary("big")
    summary.table(["n"], [[str(i) * 50] for i in range(40_000)])
    markdown = summary.render_markdown()
    assert len(markdown.encode()) > 1024 * 1024
    cut = truncate_for_step_summary(markdown)
    assert len(cut.encode()) < 1024 * 1024
    assert cut.rstrip().endswith("the full report is in the job's artifacts.")


def test_summary_escapes_untrusted_cells() -> None:
    summary = Summary("t")
    summary.table(["name"], [["<script>x</script> | `rm`"]])
    assert "<script>" not in summary.render_markdown()
    assert "<script>" not in summary.render_html()
