"""Bad input ends the monitor with exit 2 and one clear line naming the problem."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelship.drift import DataError, Options, compare
from tests.harness.cli import CliRun, run_cli
from tests.monitor.conftest import drift_tables, write_table


def monitor(tmp_path: Path, ref: Path, cur: Path, *extra: str) -> CliRun:
    return run_cli(
        ["monitor", "--reference", str(ref), "--current", str(cur), "--json", *extra], tmp_path
    )


def error_line(run: CliRun) -> str:
    lines = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert lines, run.stderr
    return lines[-1]


def test_columns_that_differ_are_named(tmp_path: Path) -> None:
    ref, cur = drift_tables(200)
    cur = cur.drop_columns(["plan"]).append_column("region", pa.array(["x"] * 200))
    run = monitor(
        tmp_path, write_table(ref, tmp_path / "r.parquet"), write_table(cur, tmp_path / "c.parquet")
    )
    assert run.code == 2
    line = error_line(run)
    assert "only in the reference data: plan" in line
    assert "only in the current data: region" in line


def test_missing_listed_feature_is_named(tmp_path: Path) -> None:
    ref, cur = drift_tables(200)
    run = monitor(
        tmp_path,
        write_table(ref, tmp_path / "r.parquet"),
        write_table(cur.drop_columns(["stable"]), tmp_path / "c.parquet"),
        "--features",
        "stable,shifted",
    )
    assert run.code == 2
    assert "not in the current data: stable" in error_line(run)


def test_empty_current_data(tmp_path: Path) -> None:
    ref, cur = drift_tables(200)
    run = monitor(
        tmp_path,
        write_table(ref, tmp_path / "r.csv"),
        write_table(cur.slice(0, 0), tmp_path / "c.csv"),
    )
    assert run.code == 2
    assert "the current data (c.csv) has no rows" in error_line(run)


def test_text_in_a_numeric_csv_column_past_the_first_block(tmp_path: Path) -> None:
    rows = 200_000  # several CSV blocks: the text appears after type inference
    values = np.round(np.random.default_rng(1).normal(size=rows), 3).astype(str).astype(object)
    values[150_000] = "n/a?"
    ref = pa.table({"amount": np.random.default_rng(2).normal(size=rows)})
    cur = pa.table({"amount": pa.array(values.tolist())})
    cur_path = tmp_path / "c.csv"
    with cur_path.open("w") as out:
        out.write("amount\n" + "\n".join(cur.column(0).to_pylist()) + "\n")
    run = monitor(tmp_path, write_table(ref, tmp_path / "r.csv"), cur_path)
    assert run.code == 2
    line = error_line(run)
    assert "column 'amount'" in line
    assert "'n/a?'" in line


def test_text_in_a_column_that_is_numeric_in_the_reference(tmp_path: Path) -> None:
    ref = pa.table({"amount": [1.0, 2.0, 3.0] * 50})
    cur = pa.table({"amount": ["1", "two", "3"] * 50})
    run = monitor(
        tmp_path, write_table(ref, tmp_path / "r.parquet"), write_table(cur, tmp_path / "c.parquet")
    )
    assert run.code == 2
    line = error_line(run)
    assert "column 'amount' holds numbers in r.parquet but text in c.parquet (e.g. 'two')" in line


def test_numbers_written_as_text_are_still_numbers(tmp_path: Path) -> None:
    ref = pa.table({"amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] * 30})
    cur = pa.table({"amount": ["1", "2", "3", "4", "5", "6.5"] * 30})
    run = monitor(
        tmp_path, write_table(ref, tmp_path / "r.parquet"), write_table(cur, tmp_path / "c.parquet")
    )
    assert run.code == 0, run.stderr


def test_a_million_distinct_categories_are_compared_not_skipped(tmp_path: Path) -> None:
    rows = 1_000_000
    ids = pa.array([f"user-{i:07d}" for i in range(rows)])
    rng = np.random.default_rng(0)
    ref = pa.table({"user_id": ids, "x": rng.normal(size=rows)})
    cur = pa.table({"user_id": ids, "x": rng.normal(size=rows)})
    paths = write_table(ref, tmp_path / "r.parquet"), write_table(cur, tmp_path / "c.parquet")
    started = time.monotonic()
    run = monitor(tmp_path, *paths, "--categorical", "user_id")
    elapsed = time.monotonic() - started
    assert run.code == 0, run.stderr
    assert run.outputs["status"] == "stable"
    report = json.loads((tmp_path / run.outputs["report-json"]).read_text())
    user_id = next(f for f in report["features"] if f["feature"] == "user_id")
    assert user_id["judged"] is True
    assert user_id["method"] == "chi2"
    assert user_id["drifted"] is False
    assert elapsed < 60


@pytest.mark.parametrize(
    ("name", "writer", "expected"),
    [
        (
            "c.parquet",
            "csv",
            "the extension says Parquet but the file does not start with Parquet's magic "
            "bytes (it looks like text (CSV?))",
        ),
        (
            "c.csv",
            "parquet",
            "the extension says CSV but the file is binary (it looks like Parquet)",
        ),
        ("c.jsonl", "csv", "the extension says JSON lines but the first line is not a JSON object"),
        ("c.csv", "jsonl", "the extension says CSV but the file looks like JSON"),
        ("c.xlsx", "csv", "unknown file type"),
    ],
)
def test_a_file_that_is_not_what_its_extension_says(
    tmp_path: Path, name: str, writer: str, expected: str
) -> None:
    ref, cur = drift_tables(100)
    written = write_table(cur, tmp_path / f"real.{writer}")
    target = tmp_path / name
    written.rename(target)
    run = monitor(tmp_path, write_table(ref, tmp_path / "r.parquet"), target)
    assert run.code == 2
    assert expected in error_line(run)


def test_missing_file(tmp_path: Path) -> None:
    ref, _cur = drift_tables(100)
    run = monitor(tmp_path, write_table(ref, tmp_path / "r.parquet"), tmp_path / "nope.parquet")
    assert run.code == 2
    assert "no such file" in error_line(run)


def test_path_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    ref, _cur = drift_tables(100)
    pq.write_table(ref, tmp_path / "r.parquet")
    run = run_cli(["monitor", "--reference", "../r.parquet", "--current", "../r.parquet"], work)
    assert run.code == 2


def test_an_unreadable_parquet_column_is_named_on_one_line(tmp_path: Path) -> None:
    """Columns are read as the check takes them: a damaged one still ends the run cleanly."""
    ref, cur = drift_tables(2000)
    reference = write_table(ref, tmp_path / "r.parquet")
    current = write_table(cur, tmp_path / "c.parquet")
    chunk = pq.read_metadata(current).row_group(0).column(cur.column_names.index("shifted"))
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(current.read_bytes())
    data[start : start + chunk.total_compressed_size] = b"\xff\x00" * (
        chunk.total_compressed_size // 2
    ) + b"\xff" * (chunk.total_compressed_size % 2)
    current.write_bytes(bytes(data))
    run = monitor(tmp_path, reference, current)
    assert run.code == 2
    line = error_line(run)
    assert "c.parquet: column 'shifted' cannot be read: " in line
    assert run.stderr.strip().splitlines() == [line]
    with pytest.raises(DataError) as raised:  # the library's own message is one line too
        compare(reference, current, Options())
    assert str(raised.value).startswith("c.parquet: column 'shifted' cannot be read: ")
    assert "\n" not in str(raised.value)
