"""What a monitor run loads: a CI job pays every import on every run.

Each check runs in a fresh interpreter, so the modules it lists are the ones
the run itself imported, not ones another test left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from tests.monitor.conftest import drift_tables, write_table

# Heavy modules a drift check has no use for: seconds of start-up between them.
NEVER_NEEDED = ("pandas", "pyarrow.dataset", "mlflow", "sklearn")

_RUN_MONITOR = """
import json, sys
from pathlib import Path
from modelship.cli import main
code = main(sys.argv[1:], env={}, cwd=Path.cwd())
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

_RUN_CHECK = """
import json, sys
from pathlib import Path
from modelship.drift import Options, compare
result = compare(Path(sys.argv[1]), Path(sys.argv[2]), Options(method=sys.argv[3]))
print(json.dumps({"drifted": result.drifted_features, "modules": sorted(sys.modules)}))
"""


def _fresh_python(code: str, args: list[str], cwd: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_monitor_on_parquet_loads_no_pandas_dataset_mlflow_or_unused_metrics_client(
    tmp_path: Path,
) -> None:
    ref, cur = drift_tables()
    write_table(ref, tmp_path / "reference.parquet")
    write_table(cur, tmp_path / "current.parquet")
    run = _fresh_python(
        _RUN_MONITOR,
        ["monitor", "--reference", "reference.parquet", "--current", "current.parquet"],
        tmp_path,
    )
    assert run["code"] == 0
    modules = set(run["modules"])  # type: ignore[call-overload]
    assert "modelship.drift.check" in modules  # the check did run here
    loaded = sorted(m for m in NEVER_NEEDED if m in modules)
    assert loaded == []
    # Neither a metrics file nor a Pushgateway was asked for.
    assert "prometheus_client" not in modules


def test_a_check_without_kolmogorov_smirnov_tests_never_imports_scipy_stats(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(4)
    plans = np.array(["free", "pro", "team", "ent"])
    ref = pa.table({"x": rng.normal(0, 1, 5000), "plan": plans[rng.integers(0, 4, 5000)]})
    cur = pa.table({"x": rng.normal(0.3, 1, 5000), "plan": plans[rng.integers(0, 3, 5000)]})
    write_table(ref, tmp_path / "reference.parquet")
    write_table(cur, tmp_path / "current.parquet")
    for method in ("chi2", "psi"):
        run = _fresh_python(_RUN_CHECK, ["reference.parquet", "current.parquet", method], tmp_path)
        assert run["drifted"] == ["x", "plan"], method
        assert "scipy.stats" not in run["modules"], method  # type: ignore[operator]
