"""`make demo` shows one progress line per pipeline job, read from the runners' real logs."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.harness.checkout import init_project
from tests.harness.runners import run_act, run_gitlab

WORKFLOW = """\
name: progress
on: push
permissions: {}
jobs:
  first-job:
    runs-on: ubuntu-latest
    steps:
      - run: echo first is starting now
  second-job:
    needs: first-job
    runs-on: ubuntu-latest
    steps:
      - run: exit 3
"""

PIPELINE = """\
stages: [one, two]
first-job:
  stage: one
  script:
    - echo first is starting now
second-job:
  stage: two
  script:
    - exit 3
"""

LINE = re.compile(r"^\[ ?\d+:\d\d\] (?P<mark>ok  |FAIL) (?P<job>\S+)\s+(?P<took>\d+)s$")


def progress_lines(demo: ModuleType, output: str) -> list[re.Match[str]]:
    progress = demo.JobProgress()
    shown = [progress.feed(line) for line in output.splitlines()]
    matched = [LINE.match(line) for line in shown if line is not None]
    assert all(matched), shown
    return [m for m in matched if m is not None]


def _assert_one_line_per_job(lines: list[re.Match[str]]) -> None:
    assert [(m["job"], m["mark"].strip()) for m in lines] == [
        ("first-job", "ok"),
        ("second-job", "FAIL"),
    ]


@pytest.mark.e2e
def test_demo_prints_one_progress_line_per_act_job(
    demo: ModuleType, tmp_path: Path, modelship_checkout: Path
) -> None:
    project = init_project(tmp_path / "gh", {".github/workflows/progress.yml": WORKFLOW})
    run = run_act(project, modelship_checkout, timeout=300)
    assert run.returncode != 0  # second-job fails on purpose
    _assert_one_line_per_job(progress_lines(demo, run.output))


@pytest.mark.e2e
def test_demo_prints_one_progress_line_per_gitlab_ci_local_job(
    demo: ModuleType, tmp_path: Path
) -> None:
    project = init_project(tmp_path / "gl", {".gitlab-ci.yml": PIPELINE})
    run = run_gitlab(project, timeout=300)
    assert run.returncode != 0
    _assert_one_line_per_job(progress_lines(demo, run.output))


def test_progress_line_carries_the_jobs_own_time_and_the_runs(demo: ModuleType) -> None:
    progress = demo.JobProgress(started=100.0)
    assert progress.feed("[ML pipeline/train   ] 🚀  Start image=-self-hosted", now=130.0) is None
    line = progress.feed("[ML pipeline/train   ] 🏁  Job succeeded", now=172.4)
    assert line == "[ 1:12] ok   train                     42s"


def test_result_lists_the_html_reports_evaluation_first(demo: ModuleType, tmp_path: Path) -> None:
    names = ("monitor/monitor-drift.html", "evaluate/evaluate.html", "train/train.html")
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<html></html>")
    outcome = demo.Outcome(0, "promote", "true", {}, {}, "1", "", "", tmp_path, tmp_path / "log")
    text = outcome.text()
    evaluate = (tmp_path / "evaluate/evaluate.html").as_uri()
    drift = (tmp_path / "monitor/monitor-drift.html").as_uri()
    assert f"open in a browser:\n  {evaluate}\n  {drift}" in text
    assert "train.html" not in text  # every stage's page would bury the two that matter
