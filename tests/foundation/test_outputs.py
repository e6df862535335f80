"""Outputs reach the next job intact, whatever they contain, on every platform."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelship.ci.errors import UsageError
from modelship.ci.outputs import (
    DOTENV_MAX_BYTES,
    github_output_block,
    render_value,
    write_github,
    write_gitlab,
)
from tests.foundation.helpers import parse_github_output

HOSTILE = {
    "injection": 'a"; touch $TMPDIR/pwned; echo "',
    "newline": "first\nx=y",
    "unicode": "modèle ✓ 模型 🚀",
    "big": "v" * 200_000,
    "empty": "",
}


def test_github_output_round_trips_hostile_values(tmp_path: Path) -> None:
    path = tmp_path / "github_output"
    write_github(path, HOSTILE)
    assert parse_github_output(path.read_text(encoding="utf-8")) == HOSTILE


def test_a_newline_cannot_forge_another_output(tmp_path: Path) -> None:
    path = tmp_path / "github_output"
    write_github(path, {"environment": "staging\nshould-deploy=true"})
    parsed = parse_github_output(path.read_text(encoding="utf-8"))
    assert parsed == {"environment": "staging\nshould-deploy=true"}
    assert "should-deploy" not in parsed


def test_each_value_gets_its_own_random_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "github_output"
    write_github(path, {"a": "1", "b": "2"})
    heads = [line for line in path.read_text().splitlines() if "<<" in line]
    delimiters = {line.split("<<", 1)[1] for line in heads}
    assert len(delimiters) == 2
    assert all(d.startswith("ghadelimiter_") and len(d) > 30 for d in delimiters)


def test_a_value_containing_the_delimiter_is_refused() -> None:
    with pytest.raises(UsageError, match="contains the output delimiter"):
        github_output_block("x", "before\nDELIM\nafter", delimiter="DELIM")


def test_values_render_as_strings() -> None:
    assert render_value(True) == "true"
    assert render_value({"a": [1, 2]}) == '{"a":[1,2]}'
    with pytest.raises(ValueError, match="finite"):
        render_value(float("nan"))


def _read_dotenv(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_gitlab_dotenv_names_and_plain_values(tmp_path: Path) -> None:
    dotenv = tmp_path / "modelship.env"
    write_gitlab(
        dotenv, tmp_path / "spill", "context", {"short-sha": "abc1234", "is-release": "false"}
    )
    assert _read_dotenv(dotenv) == {
        "MODELSHIP_CONTEXT_SHORT_SHA": "abc1234",
        "MODELSHIP_CONTEXT_IS_RELEASE": "false",
    }


def test_gitlab_values_that_do_not_fit_go_to_files(tmp_path: Path) -> None:
    dotenv = tmp_path / "modelship.env"
    spill = tmp_path / "spill"
    write_gitlab(dotenv, spill, "train", HOSTILE)
    assert dotenv.stat().st_size < DOTENV_MAX_BYTES
    variables = _read_dotenv(dotenv)
    # The newline value and the 200 KB value are files; the others stay inline.
    assert Path(variables["MODELSHIP_TRAIN_BIG"]).read_text() == HOSTILE["big"]
    assert Path(variables["MODELSHIP_TRAIN_NEWLINE"]).read_text() == HOSTILE["newline"]
    assert variables["MODELSHIP_TRAIN_UNICODE"] == HOSTILE["unicode"]
    assert variables["MODELSHIP_TRAIN_INJECTION"] == HOSTILE["injection"]
    assert len(dotenv.read_text().splitlines()) == len(HOSTILE)


def test_gitlab_rerun_replaces_its_own_lines_and_keeps_others(tmp_path: Path) -> None:
    dotenv = tmp_path / "modelship.env"
    write_gitlab(dotenv, tmp_path, "context", {"version": "1"})
    write_gitlab(dotenv, tmp_path, "train", {"run-id": "r"})
    write_gitlab(dotenv, tmp_path, "context", {"version": "2"})
    assert _read_dotenv(dotenv) == {"MODELSHIP_TRAIN_RUN_ID": "r", "MODELSHIP_CONTEXT_VERSION": "2"}


def test_local_outputs_and_json_on_stdout(tmp_path: Path) -> None:
    from tests.harness.checkout import init_project
    from tests.harness.cli import run_cli

    project = init_project(tmp_path / "p", {"README.md": "x"})
    run = run_cli(["context", "--json"], project)
    assert run.code == 0, run.stderr
    stored = json.loads((project / ".modelship/outputs/context.json").read_text())
    assert stored == run.outputs
    assert run.outputs["branch"] == "main"
