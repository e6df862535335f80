"""Installing modelship into a fresh virtual environment: uv (what the actions use) against pip.

Both start from an empty venv and a warm package cache (what a CI runner with a
cache, or the second job on a self-hosted runner, sees). One run prints both
figures and the ratio:

    python benchmarks/install.py [--extras mlflow] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - started


def install_once(tool: str, spec: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        if tool == "uv":
            uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
            return timed([uv, "pip", "install", "--quiet", "--python", str(python), spec])
        return timed(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec]
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extras", default="", help="e.g. mlflow")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spec = f"{ROOT}[{args.extras}]" if args.extras else str(ROOT)
    results = {}
    for tool in ("uv", "pip"):
        install_once(tool, spec)  # fill the cache
        results[tool] = statistics.median(install_once(tool, spec) for _ in range(args.runs))
    label = f"modelship-ci[{args.extras}]" if args.extras else "modelship-ci"
    print(f"install {label} into a fresh venv, warm cache, median of {args.runs}")
    print(f"{'tool':<6} {'seconds':>8}")
    for tool, seconds in results.items():
        print(f"{tool:<6} {seconds:8.2f}")
    print(f"uv is {results['pip'] / results['uv']:.1f}x faster than pip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
