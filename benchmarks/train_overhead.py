"""What `modelship train` costs on top of plain MLflow, and uv against pip.

    python benchmarks/train_overhead.py [--repeat 3] [--skip-install]

Prints, in one run:

1. The wall time of `modelship train --command "python train.py"` against the
   same `python train.py` run with plain MLflow (what a user writes: the script
   opens its own run), on the example project, for a tracking server on
   loopback and for an existing SQLite store (`sqlite:///...`). modelship opens
   and closes the run through `MlflowClient`. Runs are interleaved and the
   medians compared, since a shared machine is noisy. Goals: at most 0.5 s
   more on the tracking server; on the SQLite store at most one `import mlflow`
   more (measured here too, as `python -c "import mlflow"` minus `python -c pass`).
2. Where modelship's own MLflow work goes, timed (wall and CPU) in fresh
   processes against both stores: `import mlflow`, making the `MlflowClient`
   (on SQLite: MLflow's SQLAlchemy store, its modules and its schema check),
   and the calls of one train stage (find the experiment, create the run, read
   it, search its logged models, terminate it). It also says whether MLflow's
   bytecode is cached: with `PYTHONDONTWRITEBYTECODE` set in a venv whose
   installer compiled nothing (`uv pip install` without `--compile-bytecode`),
   every process compiles MLflow from source and its import costs about three
   times the CPU.
3. The time to install modelship's `mlflow` extra into a fresh temporary venv
   with `uv pip install` against `pip install`. Package caches are allowed
   (and usually warm): this compares resolvers and installers, not downloads.

Neither overhead goal can be met while modelship opens the run through
`MlflowClient`: the training needs the run id in its environment when it
starts, so modelship's process imports MLflow, makes the client and creates
the run before the training can start, and none of it overlaps the training.
On a tracking server that is one `import mlflow` (about 1.2 s of CPU with
bytecode cached, 3.6 s without, on the 2-CPU development machine), on SQLite
one import plus the store init (0.6 s of CPU more with bytecode, 2 s without);
the calls take 0.1 s to 0.3 s, and reading the inputs, git and DVC about
0.04 s, too little for importing MLflow in a background thread meanwhile to
show. docs/data-and-training.md quotes the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "workflows-examples" / "project"
BIN = Path(sys.executable).parent
SERVER_GOAL_SECONDS = 0.5


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "GITHUB_", "GITLAB_", "CI_", "INPUT_", "MODELSHIP_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _timed(argv: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    return _measured(argv, env, cwd)[0]


def _measured(argv: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds, and CPU seconds (user + system) of the command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def _project(root: Path) -> Path:
    project = root / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "mlruns*"))
    git = ["git", "-c", "user.email=b@example.com", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], cwd=project, check=True)
    _timed([sys.executable, "prepare.py"], _env(), project)
    return project


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'server.db'}",
            "--artifacts-destination",
            str(root / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600  # a busy shared machine starts it slowly
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):  # noqa: S310 - loopback
                return proc, uri
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the MLflow server did not start")


Timing = tuple[float, float, float, float]  # wall plain, wall modelship, cpu plain, cpu modelship


def _compare(project: Path, uri: str, repeat: int) -> Timing:
    """Interleaved runs of plain MLflow and of modelship against the store at `uri`."""

    def plain() -> tuple[list[str], dict[str, str]]:
        env = _env(MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT_NAME="bench-plain")
        return [sys.executable, "train.py"], env

    def modelship() -> tuple[list[str], dict[str, str]]:
        argv = [str(BIN / "modelship"), "train", "--command", "python train.py"]
        argv += ["--tracking-uri", uri, "--experiment", "bench-modelship"]
        return argv, _env()

    # Warm up both (the first use of a store creates its tables; the OS caches the imports).
    _timed(*plain(), cwd=project)
    _timed(*modelship(), cwd=project)
    plain_runs, modelship_runs = [], []
    for _ in range(repeat):
        plain_runs.append(_measured(*plain(), cwd=project))
        modelship_runs.append(_measured(*modelship(), cwd=project))
    return (
        statistics.median(r[0] for r in plain_runs),
        statistics.median(r[0] for r in modelship_runs),
        statistics.median(r[1] for r in plain_runs),
        statistics.median(r[1] for r in modelship_runs),
    )


def _import_mlflow_seconds(project: Path, repeat: int) -> float:
    """Median wall time `import mlflow` adds to a Python process."""
    with_mlflow, bare = [], []
    for _ in range(repeat):
        with_mlflow.append(_timed([sys.executable, "-c", "import mlflow"], _env(), project))
        bare.append(_timed([sys.executable, "-c", "pass"], _env(), project))
    return statistics.median(with_mlflow) - statistics.median(bare)


# What modelship's process does with MLflow around the training, timed in a fresh
# process: import MLflow, make the client (on SQLite: open MLflow's database
# layer and check the schema), then the calls of a train stage that finds its
# model in the run. Public MlflowClient methods only, as modelship uses them.
BREAKDOWN = """
import sys, time
uri, name = sys.argv[1], sys.argv[2]
def now():
    return time.perf_counter(), time.process_time()
t0 = now()
from mlflow import MlflowClient
t1 = now()
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
t2 = now()
experiment = client.get_experiment_by_name(name)
experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
run_id = client.create_run(experiment_id, tags={"bench": "breakdown"}).info.run_id
client.get_run(run_id)
client.search_logged_models(
    experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
)
client.set_terminated(run_id, "FINISHED")
t3 = now()
print("breakdown", *(b[i] - a[i] for a, b in ((t0, t1), (t1, t2), (t2, t3)) for i in (0, 1)))
"""

# Wall and CPU seconds of: import mlflow, the client (store) init, the calls.
Breakdown = tuple[float, float, float, float, float, float]


def _breakdown(project: Path, uri: str, repeat: int) -> Breakdown:
    """Medians of the three parts of modelship's own MLflow work against `uri`."""
    argv = [sys.executable, "-c", BREAKDOWN, uri, "bench-breakdown"]
    samples = []
    for _ in range(repeat + 1):  # the first one creates the experiment
        done = subprocess.run(
            argv, cwd=project, env=_env(), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"the breakdown failed:\n{done.stderr[-2000:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("breakdown "))
        samples.append(tuple(float(x) for x in line.split()[1:]))
    medians = [statistics.median(part) for part in zip(*samples[1:], strict=True)]
    if len(medians) != 6:
        raise SystemExit(f"the breakdown printed {len(medians)} figures, not 6")
    return medians[0], medians[1], medians[2], medians[3], medians[4], medians[5]


def _bytecode_cached() -> bool:
    """Whether MLflow's compiled bytecode is on disk; without it (PYTHONDONTWRITEBYTECODE
    and an installer that compiled nothing) every process compiles MLflow from source."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or spec.origin is None:
        raise SystemExit("MLflow is not installed in this Python (pip install mlflow)")
    return Path(importlib.util.cache_from_source(spec.origin)).is_file()


def _install_times(root: Path) -> tuple[float, float]:
    target = f"{REPO}[mlflow]"
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is not on PATH (pip install uv)")
    uv_venv, pip_venv = root / "uv-venv", root / "pip-venv"
    subprocess.run([uv, "venv", "-q", str(uv_venv)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(pip_venv)], check=True)
    uv_seconds = _timed(
        [uv, "pip", "install", "-q", "--python", str(uv_venv / "bin" / "python"), target],
        _env(),
        root,
    )
    pip_seconds = _timed(
        [str(pip_venv / "bin" / "python"), "-m", "pip", "install", "-q", target], _env(), root
    )
    return uv_seconds, pip_seconds


def _print_rows(
    rows: list[tuple[str, float, str, float, float, float, float]], repeat: int
) -> None:
    load = os.getloadavg()[0]
    print(
        f"modelship train vs plain MLflow, median of {repeat}, example project "
        f"({os.cpu_count()} CPUs, load average {load:.1f}):"
    )
    print(
        f"  {'store':<16} {'plain':>7} {'modelship':>9} {'overhead':>8} {'ratio':>6}"
        f"   {'CPU plain':>9} {'CPU modelship':>13} {'CPU overhead':>12}   goal"
    )
    for label, goal, goal_text, plain, modelship, cpu_plain, cpu_modelship in rows:
        over = modelship - plain
        verdict = "ok" if over <= goal else "missed"
        print(
            f"  {label:<16} {plain:>6.2f}s {modelship:>8.2f}s {over:>+7.2f}s "
            f"{modelship / plain:>5.2f}x   {cpu_plain:>8.2f}s {cpu_modelship:>12.2f}s "
            f"{cpu_modelship - cpu_plain:>+11.2f}s   {goal_text}: {verdict}"
        )
    print(
        "  (CPU seconds count the command and its children; on a busy machine they "
        "are steadier than wall time)"
    )


def _print_breakdown(rows: list[tuple[str, Breakdown]], repeat: int) -> None:
    cached = "cached" if _bytecode_cached() else "not cached: compiled from source in every process"
    print(
        f"modelship's own MLflow work, median of {repeat} fresh processes "
        f"(MLflow bytecode {cached}):"
    )
    header = f"{'import mlflow':>15}{'client init':>12}{'calls':>7} {'total':>7}"
    print(f"  {'store':<16} {'':>4}{header}")
    for label, figures in rows:
        for kind, values in (("wall", figures[0::2]), ("CPU", figures[1::2])):
            parts = "".join(f"{v:>{w}.2f}s" for v, w in zip(values, (13, 11, 6), strict=True))
            print(f"  {label if kind == 'wall' else '':<16} {kind:>4} {parts} {sum(values):>6.2f}s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="measured runs of each (median)")
    parser.add_argument("--skip-install", action="store_true", help="skip uv vs pip")
    args = parser.parse_args(argv)
    # Stopped early, still stop the tracking server and remove the temporary files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = Path(tempfile.mkdtemp(prefix="modelship-bench-"))
    server = None
    try:
        project = _project(root)
        server, http_uri = _start_server(root)
        import_seconds = _import_mlflow_seconds(project, max(args.repeat, 3))
        stores = (
            ("tracking server", http_uri, SERVER_GOAL_SECONDS, f"<= {SERVER_GOAL_SECONDS:g}s"),
            (
                "SQLite store",
                f"sqlite:///{root / 'bench.db'}",
                import_seconds,
                f"<= import mlflow ({import_seconds:.2f}s)",
            ),
        )
        rows = [
            (label, goal, text, *_compare(project, uri, args.repeat))
            for label, uri, goal, text in stores
        ]
        _print_rows(rows, args.repeat)
        _print_breakdown(
            [(label, _breakdown(project, uri, args.repeat)) for label, uri, _, _ in stores],
            args.repeat,
        )
        if not args.skip_install:
            uv_seconds, pip_seconds = _install_times(root)
            print("install modelship[mlflow] into a fresh venv (package caches allowed, warm):")
            print(f"  uv pip install {uv_seconds:7.1f}s")
            print(f"  pip install    {pip_seconds:7.1f}s")
            print(f"  pip / uv       {pip_seconds / uv_seconds:7.1f}x")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
