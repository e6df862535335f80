"""How long `modelship --help` takes, next to `python -c pass` and `mlflow --version`.

Prints the median of N runs of each command and the ratios, in one run:

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def median_seconds(argv: list[str], runs: int) -> float:
    subprocess.run(argv, capture_output=True, check=False)  # warm the file cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    modelship = str(BIN / "modelship")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "modelship --help": [modelship, "--help"],
        "modelship context --help": [modelship, "context", "--help"],
    }
    mlflow = shutil.which("mlflow", path=str(BIN)) or shutil.which("mlflow")
    if mlflow:
        commands["mlflow --version"] = [mlflow, "--version"]
    results = {name: median_seconds(argv, args.runs) for name, argv in commands.items()}
    base = results["python -c pass"]
    print(f"median of {args.runs} runs each")
    print(f"{'command':<28} {'median':>9} {'x python':>9} {'x mlflow':>9}")
    reference = results.get("mlflow --version")
    for name, seconds in results.items():
        versus_mlflow = f"{seconds / reference:9.2f}" if reference else f"{'n/a':>9}"
        print(f"{name:<28} {seconds * 1000:7.1f}ms {seconds / base:9.2f} {versus_mlflow}")
    if reference:
        print(
            f"modelship --help starts {reference / results['modelship --help']:.1f}x faster "
            "than mlflow --version"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
