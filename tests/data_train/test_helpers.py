"""Pure helpers: tracking URIs, model URIs, metrics files, the data fingerprint."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from modelship.ci.errors import GateFailed, UsageError
from modelship.ci.redact import redact_url
from modelship.data.dvc import Dataset, fingerprint
from modelship.evaluation.metrics_file import MetricsFileError, parse_metrics, read_metrics
from modelship.tracking.models import parse_model_uri
from modelship.tracking.uris import resolve_tracking_uri, run_url, uri_secrets


def test_tracking_uri_order_and_absolute_local_stores(tmp_path: Path) -> None:
    assert resolve_tracking_uri(None, {}, tmp_path) == f"sqlite:///{tmp_path / 'mlruns.db'}"
    env = {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}
    assert resolve_tracking_uri(None, env, tmp_path) == "http://mlflow:5000"
    assert resolve_tracking_uri("https://given", env, tmp_path) == "https://given"
    assert resolve_tracking_uri("sqlite:///db/m.db", {}, tmp_path) == (
        f"sqlite:///{tmp_path / 'db' / 'm.db'}"
    )
    assert resolve_tracking_uri("sqlite:////abs/m.db", {}, tmp_path) == "sqlite:////abs/m.db"
    assert resolve_tracking_uri("mlruns", {}, tmp_path) == (tmp_path / "mlruns").as_uri()


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://bot:pa55word@mlflow.example.com/", "https://***@mlflow.example.com/"),
        ("https://h/x?token=abc&page=2", "https://h/x?token=***&page=2"),
        ("https://u:pw@h/x?X-Amz-Signature=abc", "https://***@h/x?X-Amz-Signature=***"),
        ("postgresql://u:pw@db:5432/mlflow", "postgresql://***@db:5432/mlflow"),
        ("sqlite:////tmp/mlruns.db", "sqlite:////tmp/mlruns.db"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ],
)
def test_tracking_uri_is_shown_without_credentials(uri: str, shown: str) -> None:
    assert redact_url(uri) == shown


def test_uri_secrets_include_the_environment() -> None:
    env = {"MLFLOW_TRACKING_TOKEN": "tok-123"}
    assert uri_secrets("https://u:pw1@h?sig=s1", env) == ["pw1", "s1", "tok-123"]


def test_run_url_has_no_credentials_and_only_for_http() -> None:
    assert (
        run_url("https://u:pw@h/mlflow/", "3", "abc") == "https://h/mlflow/#/experiments/3/runs/abc"
    )
    assert run_url("sqlite:////x.db", "3", "abc") == ""


@pytest.mark.parametrize(
    ("uri", "kind", "field", "value"),
    [
        ("runs:/0a1b2c3d4e5f/model", "run", "artifact_path", "model"),
        ("runs:/0a1b2c3d4e5f/nested/model/", "run", "artifact_path", "nested/model"),
        (
            "models:/m-0123456789abcdef0123456789abcdef",
            "logged",
            "model_id",
            "m-0123456789abcdef0123456789abcdef",
        ),
        ("models:/churn/3", "version", "version", "3"),
        ("models:/churn/latest", "version", "version", "latest"),
        ("models:/churn@champion", "alias", "alias", "champion"),
        ("models:/churn/Production", "stage", "stage", "Production"),
    ],
)
def test_model_uris_accepted(uri: str, kind: str, field: str, value: str) -> None:
    ref = parse_model_uri(uri)
    assert ref.kind == kind
    assert getattr(ref, field) == value


@pytest.mark.parametrize(
    "uri", ["runs:/abc", "runs:/abc/", "models:/", "s3://bucket/model", "models:/a/b/c", "model"]
)
def test_model_uris_refused_with_the_input_named(uri: str) -> None:
    with pytest.raises(UsageError, match="input 'candidate'"):
        parse_model_uri(uri, what="candidate")


def test_metrics_are_flattened_and_non_numbers_skipped() -> None:
    text = '{"accuracy": 0.9, "val": {"f1": 0.8, "n": 10}, "note": "x", "ok": true, "l": [1]}'
    assert parse_metrics(text, "m.json") == {"accuracy": 0.9, "val.f1": 0.8, "val.n": 10.0}


@pytest.mark.parametrize(
    ("text", "yaml_syntax", "name"),
    [
        ('{"a": 1, "loss": NaN}', False, "loss"),
        ('{"x": {"auc": Infinity}}', False, "x.auc"),
        ('{"rmse": -Infinity}', False, "rmse"),
        ('{"big": 1e999}', False, "big"),
        ('{"s": "nan"}', False, "s"),
        ("mae: .nan\n", True, "mae"),
        ("r2: -.inf\n", True, "r2"),
    ],
)
def test_non_finite_metrics_are_refused_by_name(text: str, yaml_syntax: bool, name: str) -> None:
    with pytest.raises(MetricsFileError, match=f"metric '{name}'"):
        parse_metrics(text, "m", yaml_syntax=yaml_syntax)


def test_metrics_file_errors_are_gate_failures(tmp_path: Path) -> None:
    with pytest.raises(GateFailed, match="was not written"):
        read_metrics(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(MetricsFileError, match="must hold an object"):
        read_metrics(tmp_path / "list.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(MetricsFileError, match="not valid JSON"):
        read_metrics(tmp_path / "bad.json")


def test_fingerprint_ignores_order_and_sees_every_hash_and_path() -> None:
    sets = [
        Dataset("data/train.csv", "5ef60524b50770e186a24129bc81acc2", 10, 1),
        Dataset("data/validation.csv", "b361eb4058768004f668b552eee66a17", 5, 1),
        Dataset("data/images", "0f0e0d0c0b0a09080706050403020100.dir", 99, 12),
    ]
    values = {fingerprint(list(order)) for order in itertools.permutations(sets)}
    assert len(values) == 1
    base = values.pop()
    changed = [sets[0], Dataset(sets[1].path, "b361eb4058768004f668b552eee66a18", 5, 1), sets[2]]
    assert fingerprint(changed) != base
    renamed = [Dataset("data/valid.csv", sets[1].md5, 5, 1), sets[0], sets[2]]
    assert fingerprint(renamed) != base
    # Sizes are reported, not fingerprinted: the hash already fixes the content.
    assert fingerprint([Dataset(s.path, s.md5, None, s.nfiles) for s in sets]) == base
