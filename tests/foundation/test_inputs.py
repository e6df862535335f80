"""Input precedence and validation, as a user meets them on the command line and in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship.ci.errors import UsageError
from modelship.ci.inputs import Inputs, parse_key_values, split_list
from modelship.spec import Input, Output, Stage
from tests.harness.cli import run_cli

STAGE = Stage(
    name="demo",
    title="demo",
    description="demo",
    run="x:y",
    inputs=(
        Input("model-name", "name", default="fallback"),
        Input("push", "flag", type="boolean", default="false"),
        Input("strategy", "strategy", options=("rolling", "canary"), default="rolling"),
        Input("replicas", "count", type="number", default="2"),
        Input("tag", "tag", pattern=r"[a-z0-9.-]+"),
        Input("token", "secret", secret=True),
        Input("labels", "list", type="list"),
    ),
    outputs=(Output("x", "x"),),
)


def read(flags: dict[str, str | None] | None = None, **env: str) -> Inputs:
    return Inputs.read(STAGE, flags or {}, env)


def test_flag_beats_input_env_beats_modelship_env_beats_default() -> None:
    assert read().text("model-name") == "fallback"
    assert read(MODELSHIP_MODEL_NAME="m").text("model-name") == "m"
    assert read(MODELSHIP_MODEL_NAME="m", INPUT_MODEL_NAME="i").text("model-name") == "i"
    both = read({"model-name": "f"}, MODELSHIP_MODEL_NAME="m", INPUT_MODEL_NAME="i")
    assert both.text("model-name") == "f"


def test_hyphenated_input_variable_as_the_runner_sets_it() -> None:
    assert read(**{"INPUT_MODEL-NAME": "runner"}).text("model-name") == "runner"


def test_empty_input_variable_does_not_hide_the_default() -> None:
    # A composite action passes "" for an input the user did not set.
    assert read(INPUT_MODEL_NAME="", MODELSHIP_MODEL_NAME="m").text("model-name") == "m"


def test_strings_are_trimmed() -> None:
    assert read(INPUT_MODEL_NAME="  churn \n").text("model-name") == "churn"


@pytest.mark.parametrize("value", ["true", "TRUE", "True", " false "])
def test_booleans_accept_true_false_in_any_case(value: str) -> None:
    assert read(INPUT_PUSH=value).flag("push") is (value.strip().lower() == "true")


@pytest.mark.parametrize("value", ["yes", "1", "on", "y", "ture"])
def test_booleans_reject_everything_else(value: str) -> None:
    with pytest.raises(UsageError, match=r"'push'.*must be true or false"):
        read(INPUT_PUSH=value)


def test_options_are_enforced_naming_the_input_and_choices() -> None:
    with pytest.raises(
        UsageError, match=r"'strategy' \(from INPUT_STRATEGY\) must be one of rolling, canary"
    ):
        read(INPUT_STRATEGY="big-bang")


def test_pattern_is_enforced() -> None:
    with pytest.raises(UsageError, match=r"'tag'.*must match"):
        read(INPUT_TAG="Bad Tag!")


def test_number_must_be_finite() -> None:
    with pytest.raises(UsageError, match="finite"):
        read(INPUT_REPLICAS="nan")
    with pytest.raises(UsageError, match="must be a number"):
        read(INPUT_REPLICAS="three")
    assert read(INPUT_REPLICAS="3").integer("replicas") == 3


def test_secret_value_is_never_echoed_in_errors() -> None:
    secret_stage = Stage(
        name="s",
        title="s",
        description="s",
        run="x:y",
        inputs=(Input("token", "t", secret=True, options=("a", "b")),),
        outputs=(),
    )
    with pytest.raises(UsageError) as caught:
        Inputs.read(secret_stage, {}, {"INPUT_TOKEN": "hunter2-secret"})
    assert "hunter2" not in caught.value.line()
    assert read(INPUT_TOKEN="hunter2-secret").as_dict()["token"] == "***"


def test_lists_split_on_lines_and_commas() -> None:
    assert split_list("a, b\n# comment\n\nc") == ["a", "b", "c"]


def test_key_values_name_the_bad_line() -> None:
    assert parse_key_values("params", "C=1.0\n# x\nmodel = logreg") == {
        "C": "1.0",
        "model": "logreg",
    }
    with pytest.raises(UsageError, match="line 2: expected key=value"):
        parse_key_values("params", "C=1\nnonsense")


def test_cli_bad_boolean_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    run = run_cli(["context"], tmp_path, {"INPUT_IMAGE_NAME": "Not An Image"})
    assert run.code == 2
    assert "input 'image-name' (from INPUT_IMAGE_NAME) must match" in run.stderr


def test_unknown_stage_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli(["trian"], tmp_path)
    assert run.code == 2
    assert "unknown command 'trian'" in run.stderr


def test_a_misspelt_input_name_is_a_type_error(tmp_path: Path) -> None:
    """Stages read inputs through `Inputs[<their input names>]`: the type checker
    refuses a name the stage does not declare, before anything runs."""
    from mypy import api

    source = tmp_path / "misspelt.py"
    source.write_text(
        "from modelship.ci.context import StageContext\n"
        "from modelship.stages.input_names import RegisterInput\n\n\n"
        "def run(ctx: StageContext[RegisterInput]) -> str:\n"
        '    return ctx.inputs.text("model-nmae") + ctx.inputs.text("model-name")\n'
    )
    out, _, status = api.run(
        [str(source), "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache")]
    )
    assert status == 1
    assert 'misspelt.py:6: error: Argument 1 to "text"' in out
    assert out.count("error:") == 1
