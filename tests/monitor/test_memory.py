"""Peak memory of a drift check: at most twice the data it compares.

Measured as `benchmarks/drift.py` does, in a fresh interpreter: the peak
resident size (`VmHWM`) minus the size after the imports, per byte of both
data sets as Arrow holds them in memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.monitor.conftest import write_table

_MEASURE = """
import json, sys
from pathlib import Path
import numpy, pyarrow.parquet, scipy.stats
from modelship.drift import Options, compare

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise SystemExit(key + " not found")

after_imports = status("VmRSS")
result = compare(Path(sys.argv[1]), Path(sys.argv[2]), Options())
print(json.dumps({"used": status("VmHWM") - after_imports, "drifted": result.drifted_features}))
"""


def _tables(rows: int, seed: int = 5) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    plans = np.array(["free", "pro", "team", "enterprise"])
    tables = []
    for shift in (0.0, 0.2):
        columns = {f"num_{i:02d}": rng.normal(shift * (i % 2), 1, rows) for i in range(20)}
        columns["plan"] = plans[rng.integers(0, 4, rows)]
        tables.append(pa.table(columns))
    return tables[0], tables[1]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_a_parquet_check_peaks_at_most_twice_its_input(tmp_path: Path) -> None:
    # 100,000 rows x 21 columns, about 33 MiB in memory: small enough that a
    # fixed overhead of the reading (thread pools, allocator arenas) shows.
    ref, cur = _tables(100_000)
    paths = [write_table(ref, tmp_path / "r.parquet"), write_table(cur, tmp_path / "c.parquet")]
    size = sum(pq.read_table(p).nbytes for p in paths)
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert {f"num_{i:02d}" for i in range(1, 20, 2)} <= set(run["drifted"])  # it did compare
    assert run["used"] <= 2 * size, f"peak {run['used'] / size:.2f}x the input"
