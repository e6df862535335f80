"""The smoke test against a real MLflow scoring server, and its payload formats."""

from __future__ import annotations

import json

import pytest

from modelship.ci.errors import UsageError
from modelship.deploy import smoke
from tests.deploy.conftest import PAYLOAD, PAYLOAD_CSV, ScoringServer


def test_json_records_with_expected_predictions_pass(scoring_server: ScoringServer) -> None:
    result = smoke.run(
        smoke.http_transport(scoring_server.endpoint),
        smoke.parse_payload(PAYLOAD),
        smoke.parse_expected("0, 1"),
        budget_ms=5000,
    )
    assert result.passed, result.reason
    assert result.predictions == [0, 1]
    assert len(result.latencies_ms) == 3


def test_csv_rows_pass(scoring_server: ScoringServer) -> None:
    payload = smoke.parse_payload(PAYLOAD_CSV)
    assert payload.content_type == "text/csv"
    result = smoke.run(smoke.http_transport(scoring_server.endpoint), payload, [0, 1], requests=1)
    assert result.passed, result.reason


def test_wrong_expected_predictions_fail(scoring_server: ScoringServer) -> None:
    result = smoke.run(
        smoke.http_transport(scoring_server.endpoint), smoke.parse_payload(PAYLOAD), [1, 1]
    )
    assert not result.passed
    assert "differ from the expected [1, 1]" in result.reason


def test_latency_over_budget_fails(scoring_server: ScoringServer) -> None:
    result = smoke.run(
        smoke.http_transport(scoring_server.endpoint),
        smoke.parse_payload(PAYLOAD),
        budget_ms=0.001,
        requests=2,
    )
    assert not result.passed
    assert "over the budget" in result.reason


def test_payload_the_model_rejects_fails_with_its_reason(scoring_server: ScoringServer) -> None:
    result = smoke.run(
        smoke.http_transport(scoring_server.endpoint), smoke.parse_payload('{"x": 1}')
    )
    assert not result.passed
    assert result.status == 400
    assert "missing inputs" in result.reason


def test_no_server_fails_without_raising() -> None:
    from modelship.deploy.local import free_port

    result = smoke.run(
        smoke.http_transport(f"http://127.0.0.1:{free_port()}", timeout=2),
        smoke.parse_payload(PAYLOAD),
    )
    assert not result.passed
    assert "no answer" in result.reason


@pytest.mark.parametrize(
    ("text", "key", "rows"),
    [
        ('[{"a": 1}, {"a": 2}]', "dataframe_records", 2),
        ('{"a": 1}', "dataframe_records", 1),
        ('{"dataframe_split": {"columns": ["a"], "data": [[1], [2], [3]]}}', "dataframe_split", 3),
        ('{"inputs": [[1, 2]]}', "inputs", 1),
        ("[[1, 2], [3, 4]]", "inputs", 2),
    ],
)
def test_json_payload_forms(text: str, key: str, rows: int) -> None:
    payload = smoke.parse_payload(text)
    assert payload.content_type == "application/json"
    assert key in json.loads(payload.body)
    assert payload.rows == rows


@pytest.mark.parametrize("text", ["", "a,b", "[]", "{not json", "42"])
def test_bad_payloads_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        smoke.parse_payload(text)


def test_expected_values_parse_as_json_or_text() -> None:
    assert smoke.parse_expected("[0.5, 1]") == [0.5, 1]
    assert smoke.parse_expected("yes\nno") == ["yes", "no"]
    assert smoke.parse_expected("1, 2.5") == [1, 2.5]
