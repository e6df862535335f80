"""Jobs in containers share nothing but what `needs` hands them.

Two jobs on the locally built job image: the first writes a file into its
workspace and into /tmp and publishes a random token as its output; the
second must find neither file (a clean filesystem), and must get the token
(outputs travel through `needs`). Under act and under gitlab-ci-local's docker
executor. Seconds each: no installs. Under act, the workflow runs twice: the
first job of the second run must not find the first run's file either.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.harness.checkout import init_project
from tests.harness.runner_image import Engine
from tests.harness.runners import JobContainers, run_act, run_gitlab

pytestmark = pytest.mark.e2e

GITHUB_WORKFLOW = """\
name: isolation
on: push
permissions: {}
jobs:
  produce:
    runs-on: ubuntu-latest
    outputs:
      token: ${{ steps.make.outputs.token }}
    steps:
      - id: make
        run: |
          if [ -e produced.txt ]; then echo "leaked from an earlier run: produced.txt"; exit 1; fi
          token="$(cat /proc/sys/kernel/random/uuid)"
          echo "$token" > produced.txt
          echo "$token" > /tmp/produced-MARK.txt
          echo "produced $token in $PWD"
          echo "token=$token" >> "$GITHUB_OUTPUT"
  consume:
    needs: produce
    runs-on: ubuntu-latest
    steps:
      - env:
          TOKEN: ${{ needs.produce.outputs.token }}
        run: |
          for file in produced.txt /tmp/produced-MARK.txt; do
            if [ -e "$file" ]; then echo "leaked: $file"; exit 1; fi
          done
          [ -x /opt/venv/bin/uv ] || { echo "not on the job image"; exit 1; }
          echo "consumed ${TOKEN:?no token} in $PWD"
"""

GITLAB_PIPELINE = """\
stages: [produce, consume]
produce:
  stage: produce
  image: {image}
  script:
    - token="$(cat /proc/sys/kernel/random/uuid)"
    - echo "$token" > produced.txt
    - echo "$token" > /tmp/produced-MARK.txt
    - echo "produced $token in $PWD"
    - echo "TOKEN=$token" > produce.env
  artifacts:
    reports:
      dotenv: produce.env
consume:
  stage: consume
  image: {image}
  needs: [produce]
  script:
    - |
      for file in produced.txt /tmp/produced-MARK.txt; do
        if [ -e "$file" ]; then echo "leaked: $file"; exit 1; fi
      done
    - '[ -x /opt/venv/bin/uv ] || { echo "not on the job image"; exit 1; }'
    - echo "consumed ${TOKEN:?no token} in $PWD"
"""


def _tokens(output: str, word: str) -> list[str]:
    return re.findall(rf"{word} ([0-9a-f-]{{36}}) in ", output)


def _with_marker(text: str, marker: str) -> str:
    """A /tmp file name of this test only: if a job ran on the host, the file stays there."""
    return text.replace("MARK", marker)


def _assert_isolated(output: str, marker: str) -> None:
    produced = _tokens(output, "produced")
    consumed = _tokens(output, "consumed")
    assert produced, output[-4000:]
    assert consumed, output[-4000:]
    assert consumed[0] == produced[0], "the output did not travel through needs"
    assert not Path(f"/tmp/produced-{marker}.txt").exists(), "a job ran on the host"


def test_act_jobs_see_only_needs_outputs(
    tmp_path: Path, modelship_checkout: Path, runner_image: str, docker_jobs_engine: Engine
) -> None:
    marker = uuid.uuid4().hex
    workflow = _with_marker(GITHUB_WORKFLOW, marker)
    project = init_project(tmp_path / "isolation", {".github/workflows/isolation.yml": workflow})
    containers = JobContainers(runner_image, docker_jobs_engine.env)
    for _ in range(2):  # the second run's jobs start in fresh workspaces too
        run = run_act(project, modelship_checkout, containers=containers, timeout=600).check()
        _assert_isolated(run.output, marker)


def test_gitlab_docker_jobs_see_only_needs_outputs(
    tmp_path: Path, runner_image: str, docker_jobs_engine: Engine
) -> None:
    marker = uuid.uuid4().hex
    pipeline = _with_marker(GITLAB_PIPELINE, marker).replace("{image}", runner_image)
    project = init_project(tmp_path / "isolation", {".gitlab-ci.yml": pipeline})
    containers = JobContainers(runner_image, docker_jobs_engine.env)
    run = run_gitlab(project, containers=containers, timeout=600).check()
    _assert_isolated(run.output, marker)
    assert "shell executor" not in run.output.lower()
