"""Monitor fixtures: data files, a real Pushgateway, a webhook stand-in."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.fixtures.net import free_port
from tests.harness.http import JsonHandler, LoopbackServer
from tests.harness.servers import ServerProcess


def write_table(table: pa.Table, path: Path) -> Path:
    """Write `table` in the format the suffix names (.parquet, .csv, .jsonl)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.suffix == ".csv":
        pacsv.write_csv(table, path)
    elif path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as out:
            for row in table.to_pylist():
                out.write(json.dumps(row, allow_nan=True) + "\n")
    else:
        raise ValueError(path)
    return path


def drift_tables(rows: int = 2000, seed: int = 3) -> tuple[pa.Table, pa.Table]:
    """Reference and current data: `shifted` and `plan` drift, `stable`/`colour` do not."""
    rng = np.random.default_rng(seed)
    colours = np.array(["red", "green", "blue"])
    plans = np.array(["free", "pro", "team"])
    ref = pa.table(
        {
            "stable": rng.normal(0, 1, rows),
            "shifted": rng.normal(0, 1, rows),
            "colour": colours[rng.integers(0, 3, rows)],
            "plan": plans[rng.choice(3, rows, p=[0.6, 0.3, 0.1])],
        }
    )
    cur = pa.table(
        {
            "stable": rng.normal(0, 1, rows),
            "shifted": rng.normal(0.8, 1, rows),
            "colour": colours[rng.integers(0, 3, rows)],
            "plan": plans[rng.choice(3, rows, p=[0.2, 0.3, 0.5])],
        }
    )
    return ref, cur


@pytest.fixture
def drift_files(tmp_path: Path) -> tuple[Path, Path]:
    ref, cur = drift_tables()
    return (
        write_table(ref, tmp_path / "data" / "reference.parquet"),
        write_table(cur, tmp_path / "data" / "current.parquet"),
    )


@dataclass
class Pushgateway:
    url: str

    def metrics(self) -> str:
        import requests

        return requests.get(f"{self.url}/metrics", timeout=10).text


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    """A real `prometheus-pushgateway` on a free loopback port."""
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        pytest.fail(
            "prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)"
        )
    port = free_port()
    log = tmp_path_factory.mktemp("pushgateway") / "log"
    argv = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    with ServerProcess(argv, log, stop_timeout=10) as server:
        server.wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
        yield Pushgateway(f"http://127.0.0.1:{port}")


@dataclass
class Webhook:
    url: str
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[Mapping[str, str]] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A local HTTP server standing in for a Slack/Teams incoming webhook."""
    hook = Webhook("")

    class Handler(JsonHandler):
        def do_POST(self) -> None:
            body = self.read_json()
            hook.headers.append(dict(self.headers))
            hook.received.append(body)
            self.send_bytes(hook.status, b"ok" if hook.status < 300 else b"no_service")

    with LoopbackServer(Handler) as server:
        hook.url = f"{server.url}/services/T000/B000/s3cr3tT0kenPart"
        yield hook
