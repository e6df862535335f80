"""All input is checked from its declaration before the stage does anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship.ci.errors import UsageError
from modelship.ci.inputs import Inputs, RawValue
from modelship.spec import Input, Stage
from modelship.stages import STAGES, load
from tests.harness.cli import run_cli


def _stage(item: Input) -> Stage:
    return Stage("probe", "probe", "probe", (item,), (), run="tests.security.probe_stages:x")


def _check(item: Input, value: str) -> None:
    Inputs(_stage(item), {item.name: RawValue(value, "flag")}).validate()


URL = Input("hook", "A URL.", kind="url", schemes=("https", "http"))
TRACKING = Input("tracking-uri", "Tracking.", kind="tracking-uri")


@pytest.mark.parametrize(
    "value",
    [
        "not a url",
        "hooks.slack.com/services/x",
        "ftp://host/x",
        "https://",
        "https:///path-only",
        "https://host:99999/x",
        "https://ho st/x",
        "https://host/x\n::set-output name=a::b",
        "javascript:alert(1)",
    ],
)
def test_a_malformed_url_is_refused_naming_the_input(value: str) -> None:
    with pytest.raises(UsageError, match="input 'hook'"):
        _check(URL, value)


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(UsageError) as caught:
        _check(URL, "ftp://bot:Pa55word@host/x")
    assert "Pa55word" not in caught.value.line()


@pytest.mark.parametrize(
    "value",
    [
        "http://mlflow:5000",
        "https://user:pw@mlflow.example.com",
        "sqlite:///mlruns.db",
        "file:///tmp/mlruns",
        "./mlruns",
        "databricks",
        "databricks://profile",
        "postgresql+psycopg2://u:p@db/mlflow",
    ],
)
def test_every_tracking_uri_mlflow_accepts_is_accepted(value: str) -> None:
    _check(TRACKING, value)


@pytest.mark.parametrize(
    "value", ["ftp://host/x", "s3://bucket/x", "gopher://h", "http://", "javascript:alert(1)"]
)
def test_an_unsupported_tracking_uri_is_refused(value: str) -> None:
    with pytest.raises(UsageError, match="input 'tracking-uri'"):
        _check(TRACKING, value)


def test_an_unsupported_tracking_uri_scheme_is_a_usage_error(tmp_path: Path) -> None:
    for stage in ("register", "promote", "evaluate", "build", "train", "monitor"):
        declared = {item.name for item in load(stage).inputs}
        assert "tracking-uri" in declared, stage
    argv = ["register", "--model-uri", "runs:/abc/model", "--model-name", "churn"]
    run = run_cli([*argv, "--tracking-uri", "ftp://admin:S3cret@mlflow/x"], tmp_path)
    assert run.code == 2
    assert "input 'tracking-uri'" in run.stderr
    assert "S3cret" not in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["deploy", "--target", "local", "--port", "99999"], "port"),
        (["deploy", "--target", "local", "--port", "0"], "port"),
        (["deploy", "--dry-run", "--container-port", "70000"], "container-port"),
        (["deploy", "--dry-run", "--replicas", "-1"], "replicas"),
        (["deploy", "--dry-run", "--timeout", "0s"], "timeout"),
        (["deploy", "--dry-run", "--namespace", "Prod_NS"], "namespace"),
        (["evaluate", "--seed", "-1"], "seed"),
        (["evaluate", "--seed", "1.5"], "seed"),
        (["evaluate", "--bootstrap-samples", "1e12"], "bootstrap-samples"),
        (["test", "--timeout", "-5"], "timeout"),
        (["register", "--wait-timeout", "0"], "wait-timeout"),
        (["train", "--namespace", "a" * 64], "namespace"),
        (["train", "--service-account", "Bad Name"], "service-account"),
        (["train", "--backoff-limit", "-2"], "backoff-limit"),
        (["monitor", "--drift-share", "1.5"], "drift-share"),
        (["monitor", "--webhook-url", "hooks.slack.com/x"], "webhook-url"),
        (["monitor", "--pushgateway-url", "pushgateway:9091"], "pushgateway-url"),
    ],
)
def test_ports_seeds_replicas_and_timeouts_are_checked_before_the_stage_runs(
    tmp_path: Path, argv: list[str], name: str
) -> None:
    required = {
        "evaluate": ["--model-uri", "m", "--model-name", "m", "--data", "d.csv", "--target", "y"],
        "register": ["--model-uri", "m", "--model-name", "m"],
        "monitor": ["--reference", "r.csv", "--current", "c.csv"],
    }.get(argv[0], [])
    run = run_cli([*argv, *required], tmp_path)
    assert run.code == 2, run.stderr
    assert f"input '{name}'" in run.stderr
    assert "Traceback" not in run.stderr
    # Refused before any side effect: no outputs, no reports.
    assert not (tmp_path / ".modelship").exists()
    assert not (tmp_path / "modelship-reports").exists()


def test_every_declared_kind_and_default_is_consistent() -> None:
    for name in STAGES:
        stage = load(name)
        raw = {
            item.name: RawValue("x" if item.required else item.default, "default")
            for item in stage.inputs
        }
        Inputs(stage, raw).validate()
        for item in stage.inputs:
            if item.kind == "url":
                assert item.schemes, f"{name} {item.name}"


def test_a_path_input_or_a_symlink_never_leaves_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "out").symlink_to(tmp_path)
    item = Input("junit-path", "A path.", type="path")
    for value in ("../escape.xml", str(tmp_path / "abs.xml"), "out/escape.xml"):
        inputs = Inputs(_stage(item), {item.name: RawValue(value, "flag")})
        with pytest.raises(UsageError, match="outside the workspace"):
            inputs.path(item.name, workspace)
    run = run_cli(["test", "--command", "true", "--junit-path", "out/junit.xml"], workspace)
    assert run.code == 2
    assert "outside the workspace" in run.stderr
    assert not (tmp_path / "junit.xml").exists()


def test_lineage_never_shows_a_tracking_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    uri = "http://admin:Lin3agePw@127.0.0.1:9"
    run = run_cli(["lineage", "models:/churn/1", "--tracking-uri", uri], tmp_path)
    assert run.code == 3
    assert "Lin3agePw" not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert "http://***@127.0.0.1:9" in run.stderr
