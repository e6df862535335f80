"""Drift check speed: modelship against Evidently's DataDriftPreset and a scipy loop.

    .venv/bin/python benchmarks/drift.py          # everything, in one run (about 15 min)
    .venv/bin/python benchmarks/drift.py --evidently-max-rows 100000   # Evidently not at 1M
    .venv/bin/python benchmarks/drift.py --sizes 100000 --no-evidently --no-process
    .venv/bin/python benchmarks/drift.py --quick  # modelship and scipy only, in-process

In-process: 20 numeric columns (a third of them shifted in the current set)
and 3 categorical ones (5, 4 and 2 values), at 100,000 and 1,000,000 rows,
written once as Parquet under the cache directory. Each tool runs in its own
subprocess, so its peak memory (`ru_maxrss`) is its own: the figure shown is
the peak minus the process's size after its imports, next to the in-memory
size of both data sets. The time covers reading both files and the whole
check, not interpreter start-up or imports (printed apart): wall clock, and
CPU time (user + system, all threads), the steadier figure on a shared
machine. modelship and the scipy loop run `--repeat` times (default 3),
Evidently `--evidently-repeat` times (default 1: its runs take minutes and
vary little), each time in a fresh process, and the medians are compared:
a single cold run of a sub-second check varies by a factor of three with
what else the machine is doing.

* modelship: `modelship.drift.compare`, method `auto` (KS and chi-square).
* scipy loop: pyarrow reads the columns, then `ks_2samp` per numeric column
  and `chisquare` per categorical column, as a hand-written check would.
* Evidently 0.7 `Report([DataDriftPreset()])` on pandas DataFrames, in its own
  virtual environment (Evidently 0.7 needs pandas < 3), created on first use
  with `uv` under the cache directory.

Whole processes, what a CI job pays (interpreter start-up, imports, reading
the Parquet files, the check, the reports): the `modelship monitor` command
against a Python script that reads both files with pandas and runs the
Evidently preset (`EVIDENTLY_SCRIPT`, no report written), on 200,000 rows x
28 columns (20 numeric, 8 categorical with 2 to 2,000 values). modelship runs
twice: with its default tests (`auto`: KS and chi-square, exact scipy
p-values), and with the tests Evidently's preset picks itself for columns of
more than 1,000 values (`wasserstein`: normed Wasserstein and Jensen-Shannon),
so that both tools do the same work. Both run once
unmeasured first, with bytecode writing on, so neither pays for compiling
its modules or reading the files from disk (an installed package has its
bytecode; the data of a CI job is usually fresh, for both alike).

At the end, an agreement check runs Evidently and modelship on a 1,000-row
and a 5,000-row data set and compares the per-column drift decisions (at 1,000
rows Evidently picks KS/chi-square/z = modelship `auto`; above, normed
Wasserstein/Jensen-Shannon = modelship `wasserstein`).

An earlier run with default options, on the same machine shared with other
work (load average 4 to 9, so wall times were inflated), gave: in-process,
Evidently 146 and 90 times modelship's CPU time at 100,000 and 1,000,000
rows, the scipy loop 34 and 9.9 times, peak memory 1.09x and 0.34x the
input; whole processes (modelship `auto` only) 18.4 times the wall time and
17.8 times the CPU time, modelship's process waiting mostly for a core. Over
29 runs at 100,000 rows the peak was 35 to 45 MiB (1.0x to 1.3x the input),
depending on which columns the two worker threads hold at the same moment.

The whole benchmark in one run with default options, on the quiet machine
(load average 1.1 falling to 0.0), the environment's byte code compiled
(`make venv`):

    rows       tool       wall      cpu     peak-base  input    mem/input
    100,000    modelship    0.06s    0.09s     46 MiB   34 MiB   1.33x
    100,000    scipy        1.32s    1.34s    171 MiB   34 MiB   4.98x
    100,000    evidently    6.23s   10.73s    245 MiB   34 MiB   7.13x
    1,000,000  modelship    0.43s    0.75s    117 MiB  343 MiB   0.34x
    1,000,000  scipy        8.48s    8.86s    766 MiB  343 MiB   2.23x
    1,000,000  evidently   92.96s   99.82s  2,115 MiB  343 MiB   6.16x

    whole processes, 200,000 rows x 28 columns, input 98 MiB in memory
    tool                   runs   wall      cpu     peak rss
    modelship auto         3        1.18s    1.50s    188 MiB
    modelship wasserstein  3        0.62s    0.92s    184 MiB
    evidently              1       19.44s   25.78s    920 MiB

In-process, Evidently took 122 and 133 times modelship's CPU time at
100,000 and 1,000,000 rows (goal 30), the scipy loop 15 and 12 times; peak
memory was 1.33x and 0.34x the input (goal 2x). As whole processes doing
the same tests, Evidently took 31.4 times modelship's wall time and 28.1
times its CPU time: the goal of 20 holds. Against modelship's default
`auto` it took 16.5 and 17.1 times (in two shorter runs `--sizes 100000
--no-agreement` at load 1.7 to 2.4: 17.2 and 18.3 times the wall time
against `auto`, 27.0 and 30.5 against `wasserstein`). `python -X
importtime` shows `scipy.stats` at 0.66 s of modelship's 1.2 s, imported in
a thread while the files are read, for the `kstwo` p-values of stable
columns; the rest is the interpreter, numpy, pyarrow and the check itself.
Dropping `scipy.stats` would take the exact p-value of a stable column from
something other than scipy's public distribution, which this check does not
do. Evidently and modelship agreed on all 23 per-column decisions and tests
at 1,000 and 5,000 rows.

Where the memory went, and why it no longer does: the check used to read
each Parquet file whole in one `ParquetFile.read` call, so every column sat
in Arrow memory at once, and the first read of a process added about 60 MiB
whatever the file's size (at 100,000 x 20: the Arrow pool's live bytes
peaked at 24 MiB for 16 MiB of data, while resident memory grew by 58 MiB
in mimalloc's arena, freed blocks of Arrow's decoding threads not being
reused; the system and jemalloc pools and `use_threads=False` did no
better: 54 to 103 MiB for the first file). That gave 2.99x at 100,000 rows
(103 MiB for 34 MiB) and 1.48x at 1,000,000. Now only the footer is read up
front and each column is read, with no Arrow thread pool, by the worker
thread that takes it, copied into one float64 array (integers convert in
the copy, with no second float64 copy) and released: at most about three
columns' worth per worker is in memory, whatever the number of columns, and
CPU time fell too (reading the same medians with `--quick` at load average
7 to 9: 0.24 s -> 0.12 s at 100,000 rows, 2.46 s -> 0.86 s at 1,000,000).
These peaks are `VmHWM`; the figures of earlier versions of this script
used `ru_maxrss`, which Linux carries over from the parent process.

Before the version that read Parquet whole (KS p-values through public
scipy only, Parquet read batch by batch, scipy.stats imported on first
use), the whole-process comparison took 5.4 s against Evidently's 55 s wall
(10x); with the whole-file read it took 5.89 s against 128.71 s at load
average 11 to 14 (21.8x wall, 13.0x CPU).

Why the median: on this virtual machine the first process to touch a few
hundred MiB after a few idle seconds spends several times more system time
in page faults (the hypervisor has taken the free memory back). With the
whole-file read, modelship's first run at 1,000,000 rows took 4.4 s of CPU,
the next two 1.5 s and 1.4 s; `/usr/bin/time` shows the difference is all
system time. The figure `CPU seconds of each run` prints every run, so the
one-off stays visible.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = 20
CATEGORIES = {"city": list("abcde"), "plan": ["free", "pro", "team", "ent"], "flag": ["y", "n"]}
EVIDENTLY_GOAL = 30.0  # in-process: times faster than Evidently's DataDriftPreset
PROCESS_GOAL = 20.0  # whole processes: times faster than a script running Evidently
MEMORY_GOAL = 2.0  # peak memory above the process's size after imports, per input byte
PROCESS_ROWS = 200_000
PROCESS_NUMERIC = 20
# Categorical columns of the whole-process data and their number of values.
PROCESS_CATEGORIES = {
    "city": 50,
    "plan": 4,
    "flag": 2,
    "device": 8,
    "country": 120,
    "channel": 6,
    "segment": 12,
    "zip": 2000,
}
# What a CI job would run with Evidently: read both files, run the preset, take the result.
EVIDENTLY_SCRIPT = """
import json, sys
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
reference = pd.read_parquet(sys.argv[1])
current = pd.read_parquet(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
metrics = snapshot.dict()["metrics"]
print(json.dumps({"columns": sum(m["config"]["type"].endswith("ValueDrift") for m in metrics)}))
"""
EVIDENTLY_SPEC = ["evidently==0.7.*", "pandas<3", "pyarrow"]
EVIDENTLY_METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chi2",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensen-shannon",
    "PSI": "psi",
}


# -- data -------------------------------------------------------------------------------
def generate(rows: int, folder: Path, seed: int = 7) -> tuple[Path, Path]:
    """20 numeric columns and 3 categorical ones (5, 4 and 2 values)."""

    def columns(rng: Any, drift: bool) -> dict[str, Any]:
        made = numeric_columns(rng, rows, NUMERIC, drift, missing=False)
        for j, (name, values) in enumerate(CATEGORIES.items()):
            made[name] = categorical_column(rng, rows, values, drift and j == 0)
        return made

    return write_pair(rows, folder, seed, columns)


def generate_mixed(rows: int, folder: Path, seed: int = 13) -> tuple[Path, Path]:
    """20 numeric columns (2 % missing in some) and 8 categorical ones with 2 to 2,000 values."""

    def columns(rng: Any, drift: bool) -> dict[str, Any]:
        made = numeric_columns(rng, rows, PROCESS_NUMERIC, drift, missing=True)
        for j, (name, count) in enumerate(PROCESS_CATEGORIES.items()):
            labels = [f"{name}_{k}" for k in range(count)]
            made[name] = categorical_column(rng, rows, labels, drift and j % 3 == 0)
        return made

    return write_pair(rows, folder, seed, columns)


def write_pair(
    rows: int, folder: Path, seed: int, columns: Callable[[Any, bool], dict[str, Any]]
) -> tuple[Path, Path]:
    """The reference and the current Parquet file (kept if both exist already);
    `columns(rng, drift)` makes the columns of one of them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / f"reference-{rows}.parquet", folder / f"current-{rows}.parquet")
    if all(p.exists() for p in paths):
        return paths
    rng = np.random.default_rng(seed)
    for path, drift in zip(paths, (False, True), strict=True):
        pq.write_table(pa.table(columns(rng, drift)), path)
    return paths


def numeric_columns(rng: Any, rows: int, count: int, drift: bool, missing: bool) -> dict[str, Any]:
    """Every fourth column exponential, the others normal; drifted, two columns in
    three are shifted; with `missing`, every fifth has 2 % of its values missing."""
    import numpy as np

    columns: dict[str, Any] = {}
    for i in range(count):
        shift = 0.05 * (i % 3) if drift else 0.0
        values = rng.exponential(1.0 + shift, rows) if i % 4 == 3 else rng.normal(shift, 1, rows)
        if missing and i % 5 == 4:
            values[rng.random(rows) < 0.02] = np.nan
        columns[f"num_{i:02d}"] = values
    return columns


def categorical_column(rng: Any, rows: int, values: list[str], reverse: bool) -> Any:
    """Values drawn with rising frequencies (1 to 2), or falling ones when `reverse`."""
    import numpy as np
    import pyarrow as pa

    p = np.linspace(1.0, 2.0, len(values))
    if reverse:
        p = p[::-1]
    return pa.array(np.asarray(values)[rng.choice(len(values), rows, p=p / p.sum())])


# -- workers (run in subprocesses) ----------------------------------------------------------
def _rss_bytes() -> int:
    """This process's peak resident memory since it started (`VmHWM`).

    Not `ru_maxrss`: Linux carries that over from the forking parent, so a
    child of a parent holding a few hundred MiB starts with that as its peak.
    """
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of the process
    return usage.ru_utime + usage.ru_stime


def _worker(tool: str, reference: Path, current: Path, method: str) -> dict[str, Any]:
    started = time.perf_counter()
    if tool == "modelship":
        import numpy  # noqa: F401
        import pyarrow.parquet  # noqa: F401
        import scipy.stats  # noqa: F401

        from modelship.drift import Options, compare
    elif tool == "scipy":
        import numpy as np
        import pyarrow.parquet as pq
        from scipy import stats
    else:
        import pandas as pd
        from evidently import Report
        from evidently.presets import DataDriftPreset
    imported = time.perf_counter()
    baseline = _rss_bytes()
    decisions: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds()
    if tool == "modelship":
        result = compare(reference, current, Options(method=method))
        for f in result.features:
            decisions[f.name] = {"method": f.method, "score": f.score, "drifted": f.drifted}
    elif tool == "scipy":
        ref = pq.read_table(reference)
        cur = pq.read_table(current)
        for name in ref.column_names:
            a = ref.column(name).to_numpy()
            b = cur.column(name).to_numpy()
            if a.dtype.kind == "f":
                p = float(stats.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)]).pvalue)
                decisions[name] = {"method": "ks", "score": p, "drifted": p <= 0.05}
            else:
                keys, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
                ra = np.bincount(inverse[: a.size], minlength=keys.size)
                rb = np.bincount(inverse[a.size :], minlength=keys.size)
                p = float(stats.chisquare(rb, ra * (b.size / a.size)).pvalue)
                decisions[name] = {"method": "chi2", "score": p, "drifted": p < 0.05}
    else:
        ref_df = pd.read_parquet(reference)
        cur_df = pd.read_parquet(current)
        snapshot = Report([DataDriftPreset()]).run(current_data=cur_df, reference_data=ref_df)
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if not config["type"].endswith("ValueDrift"):
                continue
            method = EVIDENTLY_METHODS.get(config["method"], config["method"])
            score, threshold = float(metric["value"]), float(config["threshold"])
            if method == "ks":
                drifted = score <= threshold
            elif method in ("chi2", "z"):
                drifted = score < threshold
            else:
                drifted = score >= threshold
            decisions[config["column"]] = {"method": method, "score": score, "drifted": drifted}
    seconds = time.perf_counter() - t0
    return {
        "tool": tool,
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu0,
        "import_seconds": imported - started,
        "baseline_rss": baseline,
        "peak_rss": _rss_bytes(),
        "decisions": decisions,
    }


def evidently_python(cache: Path) -> Path:
    venv = cache / "evidently-venv"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is needed to build the Evidently environment (pip install uv)")
    subprocess.run([uv, "venv", "-q", "--python", "3.12", str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), *EVIDENTLY_SPEC], check=True
    )
    return python


def run_tool(
    tool: str, python: Path, reference: Path, current: Path, method: str = "auto"
) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    command = [str(python), __file__, "--worker", tool, str(reference), str(current), method]
    return json_of(command, tool, env)


def json_of(command: list[str], what: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """What a helper process prints as its last line, as JSON; exit if it failed."""
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_repeated(
    tool: str, python: Path, reference: Path, current: Path, repeat: int
) -> dict[str, Any]:
    """Median times over `repeat` fresh processes; the largest peak memory of them."""
    runs = [run_tool(tool, python, reference, current) for _ in range(repeat)]
    median = runs[0] | medians(runs, ("seconds", "cpu_seconds", "import_seconds"))
    worst = max(runs, key=lambda r: r["peak_rss"] - r["baseline_rss"])
    median["peak_rss"], median["baseline_rss"] = worst["peak_rss"], worst["baseline_rss"]
    median["runs"] = [round(r["cpu_seconds"], 3) for r in runs]
    return median


def medians(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in keys}


def input_bytes(reference: Path, current: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_table(reference).nbytes + pq.read_table(current).nbytes)


def prepare(kind: str, rows: int, folder: Path, seed: int) -> tuple[Path, Path, int]:
    """Write (or find) a data set and measure its size in a helper process.

    The benchmark process itself stays small: the peak memory a child reports
    through `wait4` starts at its parent's size when it was started.
    """
    command = [sys.executable, __file__, "--prepare", kind, str(rows), str(folder), str(seed)]
    made = json_of(command, "preparing the data")
    return Path(made["reference"]), Path(made["current"]), int(made["bytes"])


def _prepare_here(kind: str, rows: int, folder: Path, seed: int) -> dict[str, Any]:
    make = generate_mixed if kind == "mixed" else generate
    reference, current = make(rows, folder, seed)
    size = input_bytes(reference, current)
    return {"reference": str(reference), "current": str(current), "bytes": size}


def mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


# The wall and CPU columns of both tables: seconds, and times modelship's.
TIMES_HEADER = f"{'wall':>9} {'x':>6} {'cpu':>9} {'x':>6}"


def times(result: dict[str, Any], ours: dict[str, Any]) -> str:
    return (
        f"{result['seconds']:>8.2f}s {result['seconds'] / ours['seconds']:>5.1f}x "
        f"{result['cpu_seconds']:>8.2f}s {result['cpu_seconds'] / ours['cpu_seconds']:>5.1f}x"
    )


def goal_line(tool: str, ratio: float, label: str, goal: float, ours: str = "modelship") -> str:
    verdict = "ok" if ratio >= goal else "MISSED"
    return f"{tool}: {ratio:.1f}x {ours}'s {label} time (goal >= {goal:g}x) {verdict}"


def verdicts(results: list[dict[str, Any]], size: int) -> list[str]:
    """The issue's goals, judged on the CPU medians (the steadier figure)."""
    ours, *others = results
    lines = []
    for other in others:
        ratio = other["cpu_seconds"] / ours["cpu_seconds"]
        goal = EVIDENTLY_GOAL if other["tool"] == "evidently" else 1.0
        lines.append(goal_line(other["tool"], ratio, "CPU", goal))
    memory = (ours["peak_rss"] - ours["baseline_rss"]) / size
    lines.append(
        f"modelship peak memory {memory:.2f}x the input (goal <= {MEMORY_GOAL:g}x) "
        f"{'ok' if memory <= MEMORY_GOAL else 'MISSED'}"
    )
    return lines


# -- whole processes ---------------------------------------------------------------------
def process_env() -> dict[str, str]:
    """The caller's environment, writing bytecode (as an installed package has it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "CI"):  # a local run, whatever runs the benchmark
        env.pop(name, None)
    return env


def timed_process(command: list[str], cwd: Path) -> dict[str, float]:
    """Wall and CPU seconds (user + system, all threads) and peak memory of one process."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=cwd, env=process_env(), stdout=subprocess.DEVNULL, stderr=errors
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            text = errors.read().decode(errors="replace")
            raise SystemExit(f"{command[0]} failed ({child.returncode}):\n{text[-3000:]}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss": usage.ru_maxrss * 1024,
    }


# modelship's tests in the whole-process comparison: its default, and the
# tests Evidently's preset itself picks for columns of more than 1,000 values
# (normed Wasserstein, Jensen-Shannon), so that both do the same work.
PROCESS_METHODS = {"modelship auto": "auto", "modelship wasserstein": "wasserstein"}


def process_commands(
    workspace: Path, reference: Path, current: Path, evidently: Path | None
) -> dict[str, list[str]]:
    """What a CI job runs: the `modelship monitor` command, or Python with the Evidently script."""
    installed = Path(sys.executable).with_name("modelship")
    modelship = (
        [str(installed)]
        if installed.exists()
        else [sys.executable, "-c", "from modelship.cli import entrypoint; entrypoint()"]
    )
    names = [str(reference.relative_to(workspace)), str(current.relative_to(workspace))]
    monitor = [*modelship, "monitor", "--reference", names[0], "--current", names[1]]
    commands = {tool: [*monitor, "--method", method] for tool, method in PROCESS_METHODS.items()}
    if evidently is not None:
        commands["evidently"] = [str(evidently), "-c", EVIDENTLY_SCRIPT, *names]
    return commands


def whole_processes(
    cache: Path, evidently: Path | None, repeat: int, evidently_repeat: int
) -> None:
    """Each tool as a CI job runs it, start-up, imports and reading included; medians."""
    workspace = cache / "process-workspace"
    reference, current, size = prepare("mixed", PROCESS_ROWS, workspace, 13)
    commands = process_commands(workspace, reference, current, evidently)
    results = {}
    for tool, command in commands.items():
        timed_process(command, workspace)  # warm-up: bytecode written, files in the page cache
        runs = [
            timed_process(command, workspace)
            for _ in range(repeat if tool in PROCESS_METHODS else evidently_repeat)
        ]
        results[tool] = medians(runs, ("seconds", "cpu_seconds")) | {
            "peak_rss": max(r["peak_rss"] for r in runs),
            "runs": len(runs),
        }
    ours = results["modelship auto"]
    columns = PROCESS_NUMERIC + len(PROCESS_CATEGORIES)
    print(
        f"whole processes, {PROCESS_ROWS:,} rows x {columns} columns "
        f"({PROCESS_NUMERIC} numeric, {len(PROCESS_CATEGORIES)} categorical), "
        f"input {mib(size)} in memory:"
    )
    print(f"{'tool':>21} {'runs':>5} {TIMES_HEADER} {'peak rss':>10} {'rss/input':>9}")
    for tool, r in results.items():
        print(
            f"{tool:>21} {r['runs']:>5} {times(r, ours)} {mib(r['peak_rss']):>10} "
            f"{r['peak_rss'] / size:>8.2f}x"
        )
    if "evidently" in results:
        other = results["evidently"]
        for tool in PROCESS_METHODS:
            for key, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
                ratio = other[key] / results[tool][key]
                print(f"{'':>21} {goal_line('evidently', ratio, label, PROCESS_GOAL, tool)}")


def agreement(cache: Path, python: Path) -> list[str]:
    """Per-column decisions of Evidently and modelship on the same small data."""
    lines = []
    for rows, method in ((1000, "auto"), (5000, "wasserstein")):
        ref, cur, _size = prepare("numeric", rows, cache / "data", 11)
        ev = run_tool("evidently", python, ref, cur)["decisions"]
        ms = run_tool("modelship", Path(sys.executable), ref, cur, method)["decisions"]
        same = [c for c in ev if c in ms and ev[c]["drifted"] == ms[c]["drifted"]]
        methods = [c for c in ev if c in ms and ev[c]["method"] == ms[c]["method"]]
        lines.append(
            f"  {rows:>6,} rows, modelship method={method}: "
            f"decisions agree on {len(same)}/{len(ev)} "
            f"columns, test chosen agrees on {len(methods)}/{len(ev)}"
        )
        for column in ev:
            if column in ms and column not in same:
                lines.append(
                    f"    differs: {column}: evidently {ev[column]} modelship {ms[column]}"
                )
    return lines


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "modelship-bench"
    )
    parser.add_argument("--no-evidently", action="store_true", help="skip Evidently entirely")
    parser.add_argument(
        "--evidently-max-rows",
        type=int,
        default=0,
        help="run Evidently in-process only up to this many rows (default: every size)",
    )
    parser.add_argument(
        "--evidently-repeat",
        type=int,
        default=1,
        help="runs of Evidently (default 1: a run of a minute varies little)",
    )
    parser.add_argument(
        "--no-process", action="store_true", help="skip the whole-process comparison"
    )
    parser.add_argument("--no-agreement", action="store_true")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="modelship and the scipy loop only, at 100k and 1M rows (no Evidently)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (median)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.no_evidently = args.no_process = True
    return args


def main() -> int:
    args = arguments()
    python = None if args.no_evidently else evidently_python(args.cache_dir)
    rows_out = in_process(args, python)
    if not args.no_process:
        whole_processes(args.cache_dir, python, args.repeat, args.evidently_repeat)
    if python is not None and not args.no_agreement:
        print("agreement with Evidently's DataDriftPreset defaults:")
        for line in agreement(args.cache_dir, python):
            print(line)
    if args.json:
        args.json.write_text(json.dumps(rows_out, indent=2) + "\n", encoding="utf-8")
    return 0


def in_process(args: argparse.Namespace, python: Path | None) -> list[dict[str, Any]]:
    """The table of each tool's check at each size; its rows, for `--json`."""
    rows_out = []
    print(
        f"{'rows':>10} {'tool':<10} {TIMES_HEADER} "
        f"{'peak-base':>10} {'input':>9} {'mem/input':>9} {'imports':>8}"
    )
    for rows in [int(s) for s in args.sizes.split(",")]:
        ref, cur, size = prepare("numeric", rows, args.cache_dir / "data", 7)
        results = [
            run_repeated("modelship", Path(sys.executable), ref, cur, args.repeat),
            run_repeated("scipy", Path(sys.executable), ref, cur, args.repeat),
        ]
        if python is not None and (not args.evidently_max_rows or rows <= args.evidently_max_rows):
            results.append(run_repeated("evidently", python, ref, cur, args.evidently_repeat))
        for r in results:
            used = r["peak_rss"] - r["baseline_rss"]
            print(
                f"{rows:>10,} {r['tool']:<10} {times(r, results[0])} {mib(used):>10} "
                f"{mib(size):>9} {used / size:>8.2f}x {r['import_seconds']:>7.1f}s"
            )
            rows_out.append(
                {
                    "rows": rows,
                    "input_bytes": size,
                    **{k: v for k, v in r.items() if k != "decisions"},
                }
            )
        drifted = sorted(c for c, d in results[0]["decisions"].items() if d["drifted"])
        print(
            f"{'':>10} modelship: {len(drifted)} of {len(results[0]['decisions'])} columns drifted"
            f"; CPU seconds of each run: {results[0]['runs']}"
        )
        for line in verdicts(results, size):
            print(f"{'':>10} {line}")
    return rows_out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--prepare":
        kind, rows_text, folder_text, seed_text = sys.argv[2:6]
        made = _prepare_here(kind, int(rows_text), Path(folder_text), int(seed_text))
        print(json.dumps(made))
        raise SystemExit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        tool, reference, current, method = sys.argv[2:6]
        print(json.dumps(_worker(tool, Path(reference), Path(current), method)))
        raise SystemExit(0)
    raise SystemExit(main())
