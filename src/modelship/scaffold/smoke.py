"""A first smoke-test payload: a few validation rows without their label.

The MLflow scoring server takes `dataframe_split` JSON; rows from the
validation file make a request the model can answer. When that file is not at
hand (DVC data not pulled yet), the skeleton has the shape and no rows.
"""

from __future__ import annotations

import csv
import json
from itertools import islice
from pathlib import Path

SMOKE_ROWS = 2


def _number(text: str) -> float | int | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def smoke_payload(validation: Path, target: str) -> tuple[str, bool]:
    """The payload's JSON text, and whether it holds real rows."""
    rows: list[list[str]] = []
    if validation.suffix in (".csv", ".tsv") and validation.is_file():
        delimiter = "\t" if validation.suffix == ".tsv" else ","
        try:
            with validation.open(encoding="utf-8", newline="") as handle:
                rows = list(islice(csv.reader(handle, delimiter=delimiter), SMOKE_ROWS + 1))
        except (OSError, UnicodeDecodeError, csv.Error):
            rows = []
    if len(rows) < 2 or target not in rows[0]:
        body: dict[str, object] = {"dataframe_split": {"columns": [], "data": []}}
        return json.dumps(body, indent=2) + "\n", False
    keep = [i for i, name in enumerate(rows[0]) if name != target]
    complete = [row for row in rows[1:] if len(row) == len(rows[0])]
    body = {
        "dataframe_split": {
            "columns": [rows[0][i] for i in keep],
            "data": [[_number(row[i]) for i in keep] for row in complete],
        }
    }
    return json.dumps(body, indent=2) + "\n", True
