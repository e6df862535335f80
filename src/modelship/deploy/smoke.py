"""The smoke test: does the live model answer, correctly and fast enough?

It POSTs the payload to `/invocations` in the MLflow scoring server's format
(JSON `dataframe_split`/`dataframe_records`/`instances`/`inputs`, or CSV rows
as `text/csv`), and checks that predictions come back (one per row), that they
equal `smoke-expect` when given, and that the median latency stays within the
budget. The transport is a function, so the same test runs against a local
server, any URL, or a Service through the Kubernetes API server proxy.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelship.ci.errors import UsageError

# (body, content type) -> (HTTP status, response body)
Transport = Callable[[bytes, str], tuple[int, bytes]]

_JSON_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(frozen=True)
class Payload:
    body: bytes
    content_type: str
    rows: int | None  # rows sent, when the format tells


@dataclass
class SmokeResult:
    passed: bool
    reason: str
    latencies_ms: list[float] = field(default_factory=list)
    predictions: Any = None
    status: int | None = None

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.latencies_ms) if self.latencies_ms else None


def parse_payload(text: str) -> Payload:
    """JSON (records list, a scoring-server request, or one record) or CSV rows with a header."""
    stripped = text.strip()
    if not stripped:
        raise UsageError("input 'smoke-payload' is empty")
    if stripped[0] in "[{":
        try:
            loaded = json.loads(stripped)
        except ValueError as err:
            raise UsageError(f"input 'smoke-payload' is not valid JSON: {err}") from None
        if isinstance(loaded, list):
            if not loaded:
                raise UsageError("input 'smoke-payload' is an empty list")
            request: dict[str, Any] = (
                {"dataframe_records": loaded}
                if all(isinstance(r, dict) for r in loaded)
                else {"inputs": loaded}
            )
            rows: int | None = len(loaded)
        elif isinstance(loaded, dict) and any(key in loaded for key in _JSON_KEYS):
            request = loaded
            rows = _rows_of(loaded)
        elif isinstance(loaded, dict):
            request, rows = {"dataframe_records": [loaded]}, 1
        else:
            raise UsageError("input 'smoke-payload' must be a JSON object or list")
        return Payload(json.dumps(request).encode(), "application/json", rows)
    reader = list(csv.reader(io.StringIO(stripped)))
    if len(reader) < 2:
        raise UsageError(
            "input 'smoke-payload' looks like CSV but has no data row",
            "give a header line and at least one row",
        )
    return Payload((stripped + "\n").encode(), "text/csv", len(reader) - 1)


def _rows_of(request: dict[str, Any]) -> int | None:
    split = request.get("dataframe_split")
    if isinstance(split, dict) and isinstance(split.get("data"), list):
        return len(split["data"])
    for key in ("dataframe_records", "instances", "inputs"):
        value = request.get(key)
        if isinstance(value, list):
            return len(value)
    return None


def parse_expected(text: str) -> list[Any]:
    """`[0, 1]`, or `0,1` / one value a line; each value read as JSON when it is JSON."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            loaded = json.loads(stripped)
        except ValueError as err:
            raise UsageError(f"input 'smoke-expect' is not valid JSON: {err}") from None
        return list(loaded)
    values: list[Any] = []
    for line in stripped.splitlines():
        for raw in line.split(","):
            part = raw.strip()
            if not part:
                continue
            try:
                values.append(json.loads(part))
            except ValueError:
                values.append(part)
    return values


def _predictions(body: bytes) -> Any:
    loaded = json.loads(body)
    if isinstance(loaded, dict) and "predictions" in loaded:
        return loaded["predictions"]
    return loaded


def _same(got: Any, want: Any) -> bool:
    if isinstance(got, bool) or isinstance(want, bool):
        return bool(got == want)
    if isinstance(got, (int, float)) and isinstance(want, (int, float)):
        return math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in got)
    return bool(got == want) or str(got) == str(want)


def _flat(predictions: Any) -> list[Any] | None:
    if isinstance(predictions, list):
        return predictions
    if isinstance(predictions, dict) and len(predictions) == 1:
        only = next(iter(predictions.values()))
        return only if isinstance(only, list) else None
    return None


def run(
    transport: Transport,
    payload: Payload,
    expected: list[Any] | None = None,
    budget_ms: float | None = None,
    requests: int = 3,
) -> SmokeResult:
    """Send the payload `requests` times; every answer must pass, the median within budget."""
    result = SmokeResult(False, "")
    for _ in range(max(1, requests)):
        started = time.perf_counter()
        try:
            status, body = transport(payload.body, payload.content_type)
        except OSError as err:
            result.reason = f"no answer from the model server: {err}"
            return result
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.status = status
        if status != 200:
            result.reason = f"the model answered HTTP {status}: {_error_text(body)}"
            return result
        try:
            predictions = _predictions(body)
        except ValueError:
            result.reason = f"the model's answer is not JSON: {body[:200]!r}"
            return result
        result.predictions = predictions
        flat = _flat(predictions)
        if flat is None or not flat:
            result.reason = "the model returned no predictions"
            return result
        if payload.rows is not None and len(flat) != payload.rows:
            result.reason = f"the model returned {len(flat)} predictions for {payload.rows} rows"
            return result
        if expected is not None and not _same(flat, expected):
            result.reason = (
                f"predictions {_short(flat)} differ from the expected {_short(expected)}"
            )
            return result
    median = statistics.median(result.latencies_ms)
    if budget_ms is not None and median > budget_ms:
        result.reason = f"median latency {median:.0f} ms is over the budget of {budget_ms:.0f} ms"
        return result
    result.passed = True
    result.reason = f"{len(result.latencies_ms)} requests answered, median {median:.0f} ms" + (
        f" (budget {budget_ms:.0f} ms)" if budget_ms is not None else ""
    )
    return result


def _short(values: Any) -> str:
    text = json.dumps(values)
    return text if len(text) <= 120 else text[:117] + "..."


def _error_text(body: bytes) -> str:
    try:
        loaded = json.loads(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(loaded, dict) and "message" in loaded:
        return str(loaded["message"])[:500]
    return json.dumps(loaded)[:300]


def http_transport(
    url: str, timeout: float = 30.0, headers: dict[str, str] | None = None
) -> Transport:
    """POST to a URL (`<base>/invocations` unless the URL already ends so)."""
    import requests

    target = url if url.rstrip("/").endswith("/invocations") else url.rstrip("/") + "/invocations"

    def send(body: bytes, content_type: str) -> tuple[int, bytes]:
        try:
            response = requests.post(
                target,
                data=body,
                headers={**(headers or {}), "Content-Type": content_type},
                timeout=timeout,
            )
        except requests.RequestException as err:
            raise OSError(str(err)) from None
        return response.status_code, response.content

    return send


def ping(url: str, timeout: float = 5.0) -> bool:
    import requests

    base = url.rstrip("/").removesuffix("/invocations")
    try:
        return bool(requests.get(base + "/ping", timeout=timeout).status_code == 200)
    except requests.RequestException:
        return False
