"""Bad evaluate/register input: one `error:` line and exit 2, before MLflow is contacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.evaluate.conftest import run_cli
from tests.harness.cli import host_env
from tests.harness.http import LoopbackServer, Recorded, RefusingHandler

# The tracking URI, and every request that reached it.
Watched = tuple[str, list[Recorded]]


@pytest.fixture
def tracking_server() -> Iterator[Watched]:
    """A tracking URI that records every request made to it."""
    with LoopbackServer(RefusingHandler) as server:
        yield server.url, server.requests


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "data" / "folder").mkdir(parents=True)
    (tmp_path / "data" / "validation.csv").write_text("x,label\n1,0\n2,1\n3,0\n4,1\n")
    return tmp_path


EVALUATE = [
    "evaluate",
    "--model-uri",
    "runs:/0123abcd/model",
    "--model-name",
    "churn",
    "--data",
    "data/validation.csv",
    "--target",
    "label",
]


def _with(args: list[str], flag: str, value: str) -> list[str]:
    if flag in args:
        at = args.index(flag)
        return [*args[: at + 1], value, *args[at + 2 :]]
    return [*args, flag, value]


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--seed", "-1", "input 'seed' (from --seed) must be at least 0"),
        ("--seed", "1e30", "input 'seed' (from --seed) must be at most 4294967295"),
        ("--metrics", "nan", "unknown metric 'nan'"),
        ("--metrics", "rmse", "metric 'rmse' does not apply to classification"),
        ("--thresholds", "mae <= champion", "metric 'mae' does not apply to classification"),
        ("--data", "data/folder", "is a directory"),
        ("--champion", "the champion", "input 'champion' must be a model URI"),
        ("--champion", "models:/churn@", "is not a model URI"),
        ("--model-uri", "runs:/0123abcd/model\n::set-output name=x::y", "input 'model-uri'"),
        ("--model-uri", "not a uri", "input 'model-uri' must be a model URI"),
        ("--model-uri", "runs:/0123abcd", "names a run but no artifact path"),
    ],
)
def test_bad_evaluate_input_exits_2_before_any_mlflow_call(
    workspace: Path,
    tracking_server: tuple[str, list[Recorded]],
    flag: str,
    value: str,
    message: str,
) -> None:
    uri, seen = tracking_server
    result = run_cli(_with(EVALUATE, flag, value), workspace, host_env(MLFLOW_TRACKING_URI=uri))
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert seen == []


REGISTER = ["register", "--model-uri", "runs:/0123abcd/model", "--model-name", "churn"]


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--wait-timeout", "-1", "input 'wait-timeout' (from --wait-timeout) must be a duration"),
        ("--wait-timeout", "1e30", "input 'wait-timeout' (from --wait-timeout) must be a duration"),
        ("--model-uri", "runs:/0123abcd/model\n::set-output name=x::y", "input 'model-uri'"),
        ("--model-uri", "models:/churn/3", "already names a registered model"),
    ],
)
def test_bad_register_input_exits_2_before_any_mlflow_call(
    workspace: Path,
    tracking_server: tuple[str, list[Recorded]],
    flag: str,
    value: str,
    message: str,
) -> None:
    uri, seen = tracking_server
    result = run_cli(_with(REGISTER, flag, value), workspace, host_env(MLFLOW_TRACKING_URI=uri))
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert seen == []
