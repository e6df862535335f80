"""The GitHub example pipeline end to end with real act, as pushes to main.

First push: the good model goes all the way (no champion yet): registered,
image build context written, deployed to staging and production with the local
target, smoke-tested, promoted to champion. Second push: params.yaml flips 45 % of
the training labels (a deliberately worse model); evaluation rejects it, nothing after evaluate
runs, the champion stays where it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.harness.checkout import git
from tests.harness.demo import FirstPush
from tests.harness.runners import Run, run_act

pytestmark = pytest.mark.e2e


def _act(demo_module: ModuleType, demo: Any, checkout: Path, venv: Path) -> Run:
    demo_module.prepare(demo, checkout=False)
    return run_act(
        demo.project,
        checkout,
        event="push",
        workflow=".github/workflows/ml-pipeline.yml",
        variables=demo_module.settings(demo),
        venv=venv,
        timeout=1800,
    )


def _client(demo: Any) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(demo.tracking_uri)


@pytest.fixture
def first_push(github_first_push: FirstPush) -> FirstPush:
    """The first push (tests/harness/demo.py), shared with the other CIs' comparison."""
    return github_first_push


def test_first_push_promotes_a_champion_that_answers(first_push: FirstPush) -> None:
    state, run, reports = first_push.demo, first_push.run, first_push.reports
    run.check()
    evaluate = json.loads((reports / "evaluate" / "evaluate.json").read_text())
    assert evaluate["decision"] == "no-champion"
    assert evaluate["passed"] == "true"

    client = _client(state)
    champion = client.get_model_version_by_alias("breast-cancer", "champion")
    assert str(champion.version) == "1"
    # The version carries the lineage of the commit that was pushed.
    head = git(state.project, "rev-parse", "HEAD").strip()
    assert champion.tags["modelship.git_sha"] == head
    data = json.loads((reports / "train" / "train.json").read_text())
    run_tags = client.get_run(champion.run_id).data.tags
    assert run_tags["modelship.data_version"]
    assert data["run-id"] == champion.run_id

    # Staging and production both passed the smoke test; production's server
    # answered the payload once more for the record.
    for job in ("staging", "production"):
        deploy = json.loads((reports / job / "deploy.json").read_text())
        assert deploy["status"] == "succeeded", job
    answer = json.loads((reports / "production" / "smoke-answer.json").read_text())
    assert answer == {"predictions": [0, 0, 1, 1]}
    assert 'model answered: {"predictions": [0, 0, 1, 1]}' in run.output

    # The reports of each stage are where the demo says they are.
    for report in (
        "test/test.md",
        "test/junit.xml",
        "train/train.md",
        "evaluate/evaluate.md",
        "evaluate/evaluate.html",
        "staging/deploy.md",
        "production/deploy.md",
    ):
        assert (reports / report).is_file(), report
    containerfile = (reports / "build" / "image-context" / "Containerfile").read_text()
    assert f'"io.modelship.git-sha"="{head}"' in containerfile


def test_lineage_of_the_champion(first_push: FirstPush) -> None:
    import io

    from modelship.lineage_cli import main as lineage

    state = first_push.demo
    out = io.StringIO()
    code = lineage(
        ["models:/breast-cancer@champion", "--json", "--tracking-uri", state.tracking_uri],
        {},
        state.project,
        out,
    )
    assert code == 0
    record = json.loads(out.getvalue())
    assert record["model-version"] == "1"
    assert record["git-sha"] == git(state.project, "rev-parse", "HEAD").strip()
    assert record["data-version"]
    assert record["branch"] == "main"


def test_a_worse_model_is_rejected_and_the_champion_stays(
    demo: ModuleType,
    first_push: FirstPush,
    modelship_checkout: Path,
    action_venv: Path,
) -> None:
    state = first_push.demo
    state.worse = True
    run = _act(demo, state, modelship_checkout, action_venv)
    assert run.returncode != 0, "a rejected candidate must fail the pipeline"
    report = state.reports / "evaluate" / "evaluate.json"
    assert report.is_file(), run.output[-6000:]
    evaluate = json.loads(report.read_text())
    assert evaluate["decision"] == "reject"
    assert evaluate["passed"] == "false"
    assert evaluate["champion-version"] == "1"
    assert json.loads(evaluate["metrics"])["accuracy"] < 0.9

    client = _client(state)
    assert str(client.get_model_version_by_alias("breast-cancer", "champion").version) == "1"
    versions = client.search_model_versions("name='breast-cancer'")
    assert [str(v.version) for v in versions] == ["1"], "the rejected candidate was registered"
    # Nothing after evaluate ran.
    for job in ("register", "build", "staging", "production", "promote"):
        assert not (state.reports / job).exists(), job
