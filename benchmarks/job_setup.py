"""How long a CI job waits before a stage can run: three ways of getting `modelship`.

    python benchmarks/job_setup.py [--extras mlflow] [--runs 5] [--image REF]

Side by side, in one run, on this machine:

1. cold: a fresh venv and `uv pip install <checkout>[extras]` with an empty
   package cache (a runner's first job): everything is downloaded, built and
   linked. Goal: 10 s plus the download; the megabytes fetched are printed.
2. warm: the job's environment restored from a cache (actions/cache or a
   GitLab cache of the venv, or a later job on the same self-hosted runner):
   the actions' install script sees it was built from this same source and
   reuses it. Goal: 1 s, plus the cache restore of the venv's size (printed).
   Also, without a goal, the two ways of rebuilding the venv from uv's package
   cache: "fresh-venv" (a new venv, `uv pip install <checkout>`) and
   "fresh-whl" (the built wheel, `--offline`: no resolving, no build).
3. image: `docker run --rm IMAGE modelship --version` in the suite image
   (`Containerfile`), already on the runner as a job image is. Goal: 0.5 s.
   "engine" is `docker run --rm IMAGE true`: the engine's own share.

Each set-up ends with `modelship --version` succeeding, so all three measure
"ready to run a stage". Warm and image are the median of --runs.

Measured on an idle 2-core machine (2026-12-02, load average 1.2, a package
mirror on a fast network, `--runs 7`, the suite image built by the tests):

    set-up      seconds    goal  verdict
    cold           2.92    10.0  meets  (goal plus download) uv's cache holds 679 MB unpacked
    warm           0.06     1.0  meets  median of 7; plus restoring a 625 MB venv
    fresh-venv     2.24       -         from uv's cache
    fresh-whl      1.10       -         the same, offline wheel
    image          0.32     0.5  meets  median of 7
    engine         0.36     0.5  meets  docker run ... true

On the same machine busy with other work (load average 12 to 15) the image
took 0.51 to 0.81 s and the bare engine 0.44 to 0.61 s: a container's start
is mostly the engine's, and the engine waits for CPU like everything else.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from modelship import __version__  # noqa: E402

DEFAULT_IMAGE = f"ghcr.io/modelship/modelship:{__version__}"


@dataclass(frozen=True)
class Row:
    name: str
    seconds: float
    goal: float | None
    note: str = ""

    def line(self) -> str:
        if self.goal is None:
            goal, verdict = "-", ""
        else:
            goal, verdict = f"{self.goal:.1f}", "meets" if self.seconds <= self.goal else "misses"
        return f"{self.name:<11}{self.seconds:>8.2f}{goal:>8}  {verdict:<7}{self.note}".rstrip()


def uv_binary() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("error: uv is not installed (make venv)")
    return found


def run(argv: list[str], env: Mapping[str, str] | None = None) -> None:
    done = subprocess.run(
        argv, env=dict(env or os.environ), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv[:3])} ... failed:\n{done.stderr[-2000:]}")


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def folder_megabytes(folder: Path) -> float:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def venv_install(workdir: Path, spec: str, cache: Path, *options: str) -> float:
    """A fresh venv, modelship installed with uv from `cache`, then `modelship --version`."""
    uv = uv_binary()
    env = {**os.environ, "UV_CACHE_DIR": str(cache), "UV_PYTHON_DOWNLOADS": "never"}
    venv = Path(tempfile.mkdtemp(prefix="venv-", dir=workdir))

    def setup() -> None:
        run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], env)
        python = str(venv / "bin/python")
        run([uv, "pip", "install", "--quiet", *options, "--python", python, spec], env)
        run([str(venv / "bin" / "modelship"), "--version"], env)

    try:
        return timed(setup)
    finally:
        shutil.rmtree(venv)


def restored_environment(workdir: Path, extras: str, cache: Path, runs: int) -> tuple[float, float]:
    """Median seconds of the install script on an environment it built before (as a
    cache restores it), `modelship --version` included; and that venv's size in MB."""
    venv = workdir / "restored" / "venv"
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(cache),
        "RUNNER_TEMP": str(workdir / "runner-temp"),
        "MODELSHIP_VENV": str(venv),
    }
    script = [str(ROOT / "scripts" / "install-modelship.sh"), extras]
    run(script, env)  # the job that filled the cache
    ready = [str(venv / "bin" / "modelship"), "--version"]

    def job() -> None:
        run(script, env)
        run(ready, env)

    seconds = [timed(job) for _ in range(runs)]
    return statistics.median(seconds), folder_megabytes(venv)


def image_start(image: str, *command: str) -> float:
    return timed(lambda: run(["docker", "run", "--rm", image, *command]))


def built_wheel(workdir: Path) -> Path:
    run([uv_binary(), "build", "--quiet", "--wheel", "--out-dir", str(workdir / "dist"), str(ROOT)])
    return next((workdir / "dist").glob("*.whl"))


def image_present(image: str) -> bool:
    if not shutil.which("docker"):
        return False
    done = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="mlflow", help="extras the stage needs (evaluate)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="the suite image, built locally")
    args = parser.parse_args()
    spec = f"{ROOT}[{args.extras}]" if args.extras else str(ROOT)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="job-setup-") as tmp:
        workdir, cache = Path(tmp), Path(tmp) / "uv-cache"
        cold = venv_install(workdir, spec, cache)
        fetched = folder_megabytes(cache)
        note = f"(goal plus download) uv's cache holds {fetched:.0f} MB unpacked"
        rows.append(Row("cold", cold, 10.0, note))
        warm, size = restored_environment(workdir, args.extras, cache, args.runs)
        note = f"median of {args.runs}; plus restoring a {size:.0f} MB venv"
        rows.append(Row("warm", warm, 1.0, note))
        fresh = [venv_install(workdir, spec, cache) for _ in range(args.runs)]
        rows.append(Row("fresh-venv", statistics.median(fresh), None, "from uv's cache"))
        wheel = built_wheel(workdir)
        wheel_spec = f"modelship-ci[{args.extras}] @ {wheel.as_uri()}"
        floor = [venv_install(workdir, wheel_spec, cache, "--offline") for _ in range(args.runs)]
        rows.append(Row("fresh-whl", statistics.median(floor), None, "the same, offline wheel"))
    if image_present(args.image):
        image_start(args.image, "true")  # the first start maps the layers
        engine = [image_start(args.image, "true") for _ in range(args.runs)]
        starts = [image_start(args.image, "modelship", "--version") for _ in range(args.runs)]
        rows.append(Row("image", statistics.median(starts), 0.5, f"median of {args.runs}"))
        rows.append(Row("engine", statistics.median(engine), 0.5, "docker run ... true"))
    print(f"# a stage's set-up in a job: modelship-ci[{args.extras}] ready to run")
    print(f"{'set-up':<11}{'seconds':>8}{'goal':>8}  verdict")
    for row in rows:
        print(row.line())
    if not image_present(args.image):
        print(
            f"image: {args.image} is not on this machine; build it with\n"
            f"  docker build -f Containerfile -t {args.image} {ROOT}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
