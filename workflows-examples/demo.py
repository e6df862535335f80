"""Run the example ML pipeline end to end on this machine.

    python workflows-examples/demo.py github     # the GitHub workflow, with act
    python workflows-examples/demo.py gitlab     # the GitLab pipeline, with gitlab-ci-local

What it does:

1. makes a throwaway copy of `workflows-examples/project` as a git repository,
   with the data generated once and pushed to a DVC remote in a local folder;
2. puts the pipeline in it (`.github/workflows/ml-pipeline.yml`, or
   `.gitlab-ci.yml` with modelship's templates beside it);
3. with a Docker Engine (the one at DOCKER_HOST or the default socket; where
   none answers and `dockerd` can run, one of the demo's own for the run):
   starts an image registry on 127.0.0.1 (Debian's `docker-registry`) and,
   when the default Python base image cannot be pulled, makes one from Debian
   packages (debootstrap, cached in ~/.cache/modelship);
4. runs the pipeline as a push to `main`, on embedded defaults: MLflow on a
   SQLite store in a folder outside the repository; the serving image built
   by the Docker Engine and pushed to the local registry, then deployed to
   staging and to production as containers (deploy target `docker`), each
   smoke-tested, and the model promoted. Without an engine, the image build
   stops after writing its build context and the model is served by the
   `local` target (the MLflow scoring server on this machine);
5. prints the evaluation decision, the champion version, the image digest,
   the production container's answer to the smoke payload, the lineage
   record read back from the model version, the image and the running
   container, and where the reports are; then removes the containers and
   stops the registry (and its own dockerd, if it started one).

Run it again with `--workdir` pointing at the same folder to train a second
candidate against the champion; add `--worse` to make that candidate
deliberately worse (`train.label_noise: 0.45` in params.yaml: 45 % of the
training labels flipped) and see it rejected.

Needs: git, python3, and `act` (GitHub) or `gitlab-ci-local` (GitLab): `make dev`;
for the containers, docker.io, docker-registry and debootstrap (`make deps`).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = HERE / "project"
MODEL_NAME = "breast-cancer"
# `--worse`: this share of the training labels flipped (params.yaml train.label_noise).
WORSE_LABEL_NOISE = 0.45
STAGE_TEMPLATES = (
    "context",
    "test",
    "data",
    "train",
    "evaluate",
    "register",
    "build",
    "deploy",
    "promote",
)
# The Docker deploy target names each container `<model>-<environment>`; its
# blue-green switch adds these suffixes for a moment.
DEPLOYED_CONTAINERS = tuple(
    f"{MODEL_NAME}-{environment}{suffix}"
    for environment in ("staging", "production")
    for suffix in ("", "-candidate", "-previous")
)
# Variables of the machine's own CI that would make a runner think it is inside a job.
_LEAKY = ("GITHUB_", "GITLAB_", "CI_", "INPUT_", "MODELSHIP_", "RUNNER_", "MLFLOW_", "DVC_")


@dataclass(frozen=True)
class Containers:
    """What the pipeline ships containers with: an engine, a registry, a base image."""

    docker_host: str  # DOCKER_HOST of the engine the jobs build and deploy on
    registry: str  # 127.0.0.1:PORT
    base_image: str  # "" when the default base image is there to pull


@dataclass
class Demo:
    """The folders of one demo: everything lives under `workdir`."""

    workdir: Path
    platform: str
    worse: bool = False
    quiet: bool = False
    # Stream the runner's whole log instead of one progress line per job.
    verbose: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    # Where the GitLab jobs install modelship from (default: the exported checkout).
    modelship_source: Path | None = None
    # None: no Docker Engine, the pipeline stops at the image's build context.
    containers: Containers | None = None

    @property
    def project(self) -> Path:
        return self.workdir / "project"

    @property
    def remote(self) -> Path:
        return self.workdir / "dvc-remote"

    @property
    def store(self) -> Path:
        return self.workdir / "mlflow"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.store / 'mlflow.db'}"

    @property
    def reports(self) -> Path:
        return self.workdir / "reports"

    @property
    def checkout(self) -> Path:
        return self.workdir / "modelship"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.platform}.log"


# -- preparing ---------------------------------------------------------------------


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY)}
    for name in ("CI", "VIRTUAL_ENV"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env or clean_env()),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"demo: {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.email=demo@modelship.invalid", "-c", "user.name=modelship demo"]
    return run(["git", *identity, *args], cwd)


def python_env() -> dict[str, str]:
    """This Python (which has DVC, MLflow and scikit-learn) first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    return clean_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})


def export_checkout(target: Path) -> Path:
    """modelship as a runner fetches it: the files git knows, no venv or caches."""
    if target.exists():
        shutil.rmtree(target)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        source = REPO / raw.decode()
        if source.is_file():
            destination = target / raw.decode()
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


def pipeline_files(platform: str) -> dict[str, Path]:
    """Repository path -> source file of the pipeline definition."""
    if platform == "github":
        folder = HERE / "github"
        return {f".github/workflows/{p.name}": p for p in sorted(folder.glob("*.yml"))}
    files = {".gitlab-ci.yml": HERE / "gitlab" / ".gitlab-ci.yml"}
    for name in (*STAGE_TEMPLATES, "pipeline"):
        source = REPO / "gitlab-templates" / f"{name}.yml"
        if source.exists():
            files[f"gitlab-templates/{name}.yml"] = source
    return files


def local_install(text: str, source: Path) -> str:
    """The GitLab pipeline with every template installing modelship from `source`.

    The templates pin a release (`modelship-ci[...]==<version>`) from the package
    index; the demo runs this checkout instead, and PyPI's `modelship` is an
    unrelated project."""
    text = re.sub(r"(?m)^      install: .*\n", "", text)
    return re.sub(
        r"(?m)^(  - local: gitlab-templates/\S+\n    inputs:\n)",
        lambda m: f'{m.group(1)}      install: "{source}[all]"\n',
        text,
    )


def copy_pipeline(demo: Demo) -> None:
    for target, source in pipeline_files(demo.platform).items():
        destination = demo.project / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if target == ".gitlab-ci.yml":
            origin = demo.modelship_source or demo.checkout
            text = local_install(source.read_text(encoding="utf-8"), origin)
            destination.write_text(text, encoding="utf-8")
        else:
            shutil.copy2(source, destination)


def prepare_project(demo: Demo) -> None:
    """The example project as a fresh git repository whose data is on a DVC remote."""
    root = demo.project
    shutil.copytree(
        EXAMPLE,
        root,
        ignore=shutil.ignore_patterns(
            "__pycache__", "mlruns*", ".modelship", "modelship-reports", "metrics.json", "*.csv"
        ),
    )
    copy_pipeline(demo)
    git(root, "init", "-q", "-b", "main")
    env = python_env()
    dvc = [sys.executable, "-m", "dvc"]
    run([*dvc, "remote", "add", "-d", "storage", str(demo.remote)], root, env)
    run([*dvc, "repro", "prepare"], root, env)
    run([*dvc, "push", "-q"], root, env)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Example ML project with its pipeline")


def refresh_pipeline(demo: Demo) -> None:
    """A later run: the current pipeline files, committed (no-op when unchanged)."""
    copy_pipeline(demo)
    git(demo.project, "add", "-A")
    if git(demo.project, "status", "--porcelain").strip():
        git(demo.project, "commit", "-q", "-m", "Pipeline update")


def set_label_noise(demo: Demo, share: float) -> None:
    """The params.yaml knob that makes a worse model (a share of training labels
    flipped), committed as a developer would; the project's tests still pass."""
    params = demo.project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    changed = re.sub(r"(?m)^(  label_noise:) .*$", rf"\g<1> {share}", text)
    if changed != text:
        params.write_text(changed, encoding="utf-8")
        git(demo.project, "commit", "-q", "-am", f"train.label_noise: {share}")


def prepare_store(demo: Demo) -> None:
    """The MLflow SQLite store, with the experiment's artifacts beside it.

    Each CI job works in a fresh copy of the repository that is removed when
    the job ends, so the artifacts must not land in the job's folder (MLflow's
    default for a SQLite store is `./mlruns`)."""
    demo.store.mkdir(parents=True, exist_ok=True)
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(demo.tracking_uri)
    client = MlflowClient(demo.tracking_uri)
    if client.get_experiment_by_name(MODEL_NAME) is None:
        client.create_experiment(MODEL_NAME, artifact_location=(demo.store / "artifacts").as_uri())


def prepare(demo: Demo, checkout: bool = True) -> None:
    """Project, store and reports folder; `checkout`: also export modelship for the runner."""
    demo.workdir.mkdir(parents=True, exist_ok=True)
    if (demo.project / ".git").is_dir():
        refresh_pipeline(demo)
    else:
        prepare_project(demo)
    set_label_noise(demo, WORSE_LABEL_NOISE if demo.worse else 0.0)
    prepare_store(demo)
    if checkout:
        export_checkout(demo.checkout)
    if demo.reports.exists():
        shutil.rmtree(demo.reports)
    demo.reports.mkdir(parents=True)


# -- containers --------------------------------------------------------------------


def demo_cache() -> Path:
    """Kept between runs: the base image's root filesystem, an own engine's layers."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelship"


@contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """True while this process holds the lock at `path`, False when another one does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def docker_engine(demo: Demo, stack: ExitStack) -> tuple[str, object] | None:
    """(DOCKER_HOST, client) of the engine that answers, else of one started for this run."""
    from modelship.dev import dockerd

    host = dockerd.configured_host(os.environ)
    client = dockerd.answering_client(host)
    if client is not None:
        stack.callback(client.close)
        return host, client
    if not dockerd.can_start():
        say(
            demo,
            f"no Docker engine answers at {host}: the pipeline stops at the image's"
            " build context and serves the model with the local target",
        )
        return None
    say(demo, f"no Docker engine answers at {host}: starting dockerd for this run")
    # The cached data root keeps the image layers for the next run, one demo at a time.
    data_root = demo_cache() / "dockerd-data"
    if not stack.enter_context(_exclusive(demo_cache() / "dockerd-data.lock")):
        data_root = demo.workdir / "dockerd-data"
    try:
        engine = stack.enter_context(dockerd.own_engine(data_root))
    except RuntimeError as err:
        say(demo, f"{str(err)[:300]}; the pipeline stops at the image's build context")
        return None
    return engine.host, engine.client


def base_image(demo: Demo, client: Any) -> str:
    """The `base-image` to build from: empty for the default when the engine has
    it or can pull it, else a Python base image made here from Debian packages."""
    from modelship.images import localbase
    from modelship.images.buildcontext import default_base_image

    default = default_base_image(f"{sys.version_info.major}.{sys.version_info.minor}")
    import docker.errors

    with suppress(docker.errors.ImageNotFound):
        client.images.get(default)
        return ""
    try:
        client.images.pull(default)
        return ""
    except Exception as err:  # no public registry from here
        reason = str(getattr(err, "explanation", "") or err).strip().splitlines() or ["?"]
        say(demo, f"cannot pull {default}: {reason[0][:160]}")
    say(
        demo, "using a Python base image made from Debian packages (debootstrap, kept in the cache)"
    )
    ref, took = localbase.ensure_docker_image(
        client,
        localbase.python_base(),
        "localhost/modelship-demo/python-base",
        demo_cache() / "base-images",
    )
    say(demo, f"base image {ref}: " + (f"made in {took:.0f}s" if took else "cached"))
    return ref


def remove_containers(client: Any) -> None:
    """The containers the pipeline deployed, by their names."""
    import docker.errors

    for name in DEPLOYED_CONTAINERS:
        with suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)


@contextmanager
def container_services(demo: Demo) -> Iterator[Containers | None]:
    """Engine, registry and base image for the run; containers and registry gone after."""
    from modelship.dev.registry import available, local_registry

    with ExitStack() as stack:
        try:
            import docker  # noqa: F401
        except ImportError:
            say(
                demo,
                "the docker SDK is not installed (make dev): the pipeline stops at the"
                " image's build context and serves the model with the local target",
            )
            yield None
            return
        if not available(auth=False):
            say(
                demo,
                "docker-registry is not installed (make deps): the pipeline stops at the"
                " image's build context and serves the model with the local target",
            )
            yield None
            return
        found = docker_engine(demo, stack)
        if found is None:
            yield None
            return
        host, client = found
        try:
            base = base_image(demo, client)
        except (OSError, subprocess.SubprocessError) as err:
            say(demo, f"no base image ({str(err)[:200]}): the pipeline stops at the build context")
            yield None
            return
        # Kept between runs, one demo at a time: a later push finds its layers there.
        storage = demo_cache() / "registry"
        if not stack.enter_context(_exclusive(demo_cache() / "registry.lock")):
            storage = demo.workdir / "registry"
        registry = stack.enter_context(local_registry(storage))
        say(demo, f"image registry on {registry.host}; Docker Engine at {host}")
        # A demo killed before its end leaves them (restarted with the engine).
        remove_containers(client)
        stack.callback(remove_containers, client)
        yield Containers(host, registry.host, base)


# -- running -----------------------------------------------------------------------


def settings(demo: Demo) -> dict[str, str]:
    """The embedded defaults: repository variables (GitHub) or CI/CD variables (GitLab)."""
    common = {"MLFLOW_TRACKING_URI": demo.tracking_uri, "REPORTS_DIR": str(demo.reports)}
    if demo.containers is None:
        return {
            **common,
            "DEPLOY_TARGET": "local",
            "BUILD_CONTEXT_ONLY": "true",
            "IMAGE_NAME": f"localhost/modelship-demo/{MODEL_NAME}",
        }
    return {
        **common,
        "DEPLOY_TARGET": "docker",
        "BUILD_CONTEXT_ONLY": "false",
        "IMAGE_NAME": f"{demo.containers.registry}/modelship-demo/{MODEL_NAME}",
        "BASE_IMAGE": demo.containers.base_image,
    }


def engine_env(demo: Demo) -> dict[str, str]:
    """What points the jobs at the demo's Docker Engine."""
    return {"DOCKER_HOST": demo.containers.docker_host} if demo.containers else {}


def tool(name: str) -> str:
    candidates = [
        Path(sys.executable).with_name(name),
        REPO / ".tools" / "node_modules" / ".bin" / name,
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"demo: {name} is not installed; run `make dev` first")
    return found


def act_argv(demo: Demo) -> list[str]:
    argv = [
        tool("act"),
        "push",
        "-W",
        ".github/workflows/ml-pipeline.yml",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--local-repository",
        f"modelship/modelship@v1={demo.checkout}",
        "--env",
        f"MODELSHIP_VENV={demo.workdir / 'action-venv'}",
    ]
    for key, value in engine_env(demo).items():
        argv += ["--env", f"{key}={value}"]
    for key, value in settings(demo).items():
        argv += ["--var", f"{key}={value}"]
    return argv


def gitlab_python(demo: Demo, venv: Path | None = None, checkout: Path | None = None) -> Path:
    """The jobs' Python (the shell executor has no job image): a venv with modelship
    and the project's requirements, so the templates' `pip install` finds them there."""
    venv = venv or demo.workdir / "gitlab-python"
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)], demo.workdir, clean_env())
    requirement = f"{checkout or demo.checkout}[all]"
    uv = shutil.which("uv")
    installer = (
        [uv, "pip", "install", "--quiet", "--python", str(python)]
        if uv
        else [str(python), "-m", "pip", "install", "--quiet"]
    )
    run([*installer, requirement, "-r", str(demo.project / "requirements.txt")], demo.workdir)
    if not (venv / "bin" / "python3").exists():
        raise SystemExit(f"demo: {venv} has no python3; remove it and run again")
    return venv / "bin"


def gitlab_variables(demo: Demo) -> dict[str, str]:
    """The settings, plus what keeps the shell executor's jobs on the demo's Python.

    The shell executor starts bash, which reads `~/.bashrc`; a pyenv or conda
    setup there puts its shims before the venv on PATH, and `pip install` in a
    job would then install into the machine's Python. A private HOME avoids
    that; the download caches stay where they are."""
    home = demo.workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    real_home = Path(os.environ.get("HOME", str(Path.home())))
    cache = Path(os.environ.get("XDG_CACHE_HOME", str(real_home / ".cache")))
    return {
        **settings(demo),
        **engine_env(demo),
        "HOME": str(home),
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(cache / "uv")),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(cache / "pip")),
        # The project's requirements are already in the venv: pip needs no index.
        "PIP_NO_INDEX": "1",
    }


def gitlab_argv(demo: Demo) -> list[str]:
    argv = [tool("gitlab-ci-local"), "--force-shell-executor"]
    for key, value in gitlab_variables(demo).items():
        argv += ["--variable", f"{key}={value}"]
    return argv


# act prefixes every line of a job with "[<workflow>/<job>]" and ends the job with
# "🏁  Job succeeded|failed"; gitlab-ci-local: "<job> starting shell (<stage>)" and
# "<job> finished in 1.2 s", with " FAIL 1 " after it when the job failed.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ACT_LINE = re.compile(r"^\[[^/\]]+/(?P<job>[^\]]+?)\s*\](?P<rest>.*)$")
_GITLAB_START = re.compile(r"^(?P<job>\S+)\s+starting\s")
_GITLAB_END = re.compile(r"^(?P<job>\S+)\s+finished in ")


@dataclass
class JobProgress:
    """One line per pipeline job as it finishes, with its time and the run's.

    The runners' logs are long; a first-time user wants to see the pipeline
    move, job by job, and where the whole log is."""

    started: float = field(default_factory=time.monotonic)
    running: dict[str, float] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)

    def event(self, line: str) -> tuple[str, str] | None:
        """(job, "start" | "succeeded" | "failed") when `line` starts or ends a job."""
        text = _ANSI.sub("", line).strip()
        found = _ACT_LINE.match(text)
        if found:
            for outcome in ("succeeded", "failed"):
                if f"🏁  Job {outcome}" in found["rest"]:
                    return found["job"], outcome
            return found["job"], "start"  # the job's first line marks its start
        found = _GITLAB_START.match(text)
        if found:
            return found["job"], "start"
        found = _GITLAB_END.match(text)
        if found:
            return found["job"], "failed" if " FAIL " in f"{text} " else "succeeded"
        return None

    def feed(self, line: str, now: float | None = None) -> str | None:
        """The progress line `line` calls for, if any."""
        happened = self.event(line)
        if happened is None:
            return None
        job, what = happened
        now = time.monotonic() if now is None else now
        if what == "start":
            self.running.setdefault(job, now)
            return None
        if job not in self.running:
            return None  # gitlab-ci-local's closing "pipeline finished in ..." is no job
        took = now - self.running.pop(job)
        self.finished.append(job)
        mark = "ok  " if what == "succeeded" else "FAIL"
        return f"[{_clock(now - self.started)}] {mark} {job:<22} {took:5.0f}s"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:2d}:{rest:02d}"


def execute(demo: Demo) -> int:
    if demo.platform == "github":
        argv, env = act_argv(demo), clean_env(demo.extra_env)
    else:
        bin_dir = gitlab_python(demo)
        argv = gitlab_argv(demo)
        env = clean_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
        env.update(demo.extra_env)
    say(demo, f"running: {' '.join(argv[:2])} ... in {demo.project}")
    if not demo.verbose:
        say(demo, f"one line per job as it ends; the whole log goes to {demo.log}")
    progress = JobProgress()
    with demo.log.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            argv,
            cwd=demo.project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if demo.quiet:
                continue
            if demo.verbose:
                sys.stdout.write(line)
                sys.stdout.flush()
            elif (shown := progress.feed(line)) is not None:
                say(demo, shown)
        return proc.wait()


# -- the result --------------------------------------------------------------------


@dataclass
class Outcome:
    returncode: int
    decision: str
    passed: str
    metrics: dict[str, float]
    champion_metrics: dict[str, float]
    champion: str
    answer: str
    image: str
    reports: Path
    log: Path
    digest: str = ""
    # The production container: "<name> at <endpoint>" (docker target).
    production: str = ""
    lineage: list[str] = field(default_factory=list)

    def status(self) -> str:
        if self.returncode == 0:
            return "succeeded"
        if self.decision == "reject":
            return "stopped at evaluate: the candidate was rejected (the champion stays)"
        return f"failed (exit {self.returncode}); see the full log"

    def text(self) -> str:
        def show(metrics: Mapping[str, float]) -> str:
            keys = ("accuracy", "f1", "roc_auc")
            return ", ".join(f"{k} {metrics[k]:.3f}" for k in keys if k in metrics) or "-"

        lines = [
            "",
            "== modelship demo: result",
            f"pipeline:        {self.status()}",
            f"decision:        {self.decision or '-'} (candidate: {show(self.metrics)};"
            f" champion before: {show(self.champion_metrics)})",
            f"champion:        {MODEL_NAME} version {self.champion or '(none)'}",
            f"endpoint answer: {self.answer or '(not deployed in this run)'}",
            f"image:           {self.image}",
        ]
        if self.digest:
            lines.append(f"image digest:    {self.digest}")
        if self.production:
            lines.append(f"production:      {self.production}")
        lines += self.lineage
        lines += [
            f"reports:         {self.reports}",
            f"full log:        {self.log}",
        ]
        pages = html_reports(self.reports)
        if pages:
            lines.append("open in a browser:")
            lines += [f"  {page.as_uri()}" for page in pages]
        return "\n".join(lines)


# The reports a reader opens first: the evaluation, then the drift report.
HEADLINE_REPORTS = ("evaluate.html", "monitor-drift.html")


def html_reports(folder: Path) -> list[Path]:
    """The run's evaluation and drift reports, in that order (every stage writes one more)."""
    if not folder.is_dir():
        return []
    pages = [page for page in sorted(folder.rglob("*.html")) if page.name in HEADLINE_REPORTS]
    return sorted(pages, key=lambda page: HEADLINE_REPORTS.index(page.name))


def _read_json(path: Path) -> dict[str, str]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _metrics(text: str) -> dict[str, float]:
    try:
        loaded = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): float(v) for k, v in loaded.items() if isinstance(v, int | float)}


def stage_outputs(demo: Demo, job: str, stage: str) -> dict[str, str]:
    """A stage's outputs as the pipeline left them (`.modelship/outputs/<stage>.json`)."""
    if demo.platform == "github":
        return _read_json(demo.reports / job / f"{stage}.json")
    return _read_json(demo.project / ".modelship" / "outputs" / f"{stage}.json")


def champion_version(demo: Demo) -> str:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(demo.tracking_uri)
    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, "champion").version)
    except MlflowException:
        return ""


def smoke_answer(demo: Demo) -> str:
    if demo.platform == "github":
        path = demo.reports / "production" / "smoke-answer.json"
    else:
        path = demo.project / "modelship-reports" / "smoke-answer.json"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def outcome(demo: Demo, returncode: int) -> Outcome:
    evaluate = stage_outputs(demo, "evaluate", "evaluate")
    build = stage_outputs(demo, "build", "build")
    if build.get("image-ref"):
        image = build["image-ref"]
    elif build:
        context = "modelship-reports/image-context"
        where = (
            demo.reports / "build" / "image-context"
            if demo.platform == "github"
            else (demo.project / context)
        )
        image = f"not built (no registry here); build context of {build.get('image')} in {where}"
    else:
        image = "(not built in this run)"
    reports = demo.reports if demo.platform == "github" else demo.project / "modelship-reports"
    deployed = stage_outputs(demo, "production", "deploy")
    production = ""
    if demo.containers is not None and deployed.get("status") == "succeeded":
        production = f"container {deployed.get('serving')} at {deployed.get('endpoint')}"
    return Outcome(
        returncode=returncode,
        decision=evaluate.get("decision", ""),
        passed=evaluate.get("passed", ""),
        metrics=_metrics(evaluate.get("metrics", "")),
        champion_metrics=_metrics(evaluate.get("champion-metrics", "")),
        champion=champion_version(demo),
        answer=smoke_answer(demo),
        image=image,
        reports=reports,
        log=demo.log,
        digest=build.get("digest", "") if build.get("image-ref") else "",
        production=production,
    )


# The fields a model version's record holds; the image and container must say the same.
LINEAGE_FIELDS = (
    ("git-sha", "git SHA"),
    ("branch", "branch"),
    ("data-version", "data version"),
    ("run-id", "MLflow run"),
    ("model-version", "model version"),
    ("model-uri", "model URI"),
    ("ci-run-url", "CI run"),
)


def lineage_lines(demo: Demo, version: str, image: str, digest: str) -> tuple[bool, list[str]]:
    """`modelship lineage` on the model version, the image and the production container:
    whether they agree (and name the image that was built), and the lines to show."""
    from modelship.ci.errors import ModelshipError
    from modelship.lineage_cli import lineage_record

    env = {**os.environ, **engine_env(demo)}
    references = {
        "model version": f"models:/{MODEL_NAME}/{version}",
        "image": image,
        "container": f"container/{MODEL_NAME}-production",
    }
    records: dict[str, dict[str, str]] = {}
    for what, reference in references.items():
        tool = "docker" if what == "image" else "auto"
        try:
            found = lineage_record(reference, demo.tracking_uri, env, demo.workdir, tool=tool)
        except ModelshipError as err:
            return False, [f"lineage:         modelship lineage {reference} failed: {err.message}"]
        records[what] = found.values
    differ = [
        label
        for key, label in LINEAGE_FIELDS
        if len({record.get(key, "") for record in records.values()}) > 1
    ]
    digests = {records["image"].get("image-digest"), records["container"].get("image-digest")}
    if digests != {digest}:
        differ.append(f"image digest ({', '.join(sorted(d or '-' for d in digests))})")
    shown = records["model version"]
    summary = ", ".join(f"{label} {shown.get(key) or '-'}" for key, label in LINEAGE_FIELDS[:5])
    names = " | ".join(references.values())
    if differ:
        return False, [f"lineage:         DIFFERS in {', '.join(differ)}", f"  from {names}"]
    return True, [
        "lineage:         the same record from the model version, the image and the container",
        f"  {summary}",
        f"  (modelship lineage {names})",
    ]


def say(demo: Demo, text: str) -> None:
    if not demo.quiet:
        print(f"demo: {text}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("platform", choices=("github", "gitlab"))
    parser.add_argument(
        "--workdir",
        type=Path,
        help="folder for the project, DVC remote and MLflow store (default: a new temporary one); "
        "reuse it to run against the champion of an earlier run",
    )
    parser.add_argument(
        "--worse", action="store_true", help="train a deliberately worse model (train.label_noise)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    parser.add_argument(
        "--verbose", action="store_true", help="stream the runner's whole log, not one line a job"
    )
    args = parser.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="modelship-demo-"))).resolve()
    demo = Demo(workdir, args.platform, worse=args.worse, quiet=args.quiet, verbose=args.verbose)
    started = time.monotonic()
    demo.workdir.mkdir(parents=True, exist_ok=True)
    say(demo, f"preparing the example project in {demo.project}")
    # The project is made while the engine, base image and registry get ready:
    # a base image made with debootstrap takes minutes the first time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        prepared = pool.submit(prepare, demo)
        with container_services(demo) as containers:
            demo.containers = containers
            prepared.result()
            code = execute(demo)
            result = outcome(demo, code)
            if containers is not None and code == 0 and result.digest:
                agree, result.lineage = lineage_lines(
                    demo, result.champion, result.image, result.digest
                )
                code = code if agree else 1
            if containers is not None:
                say(demo, "removing the deployed containers and stopping the registry")
    print(result.text())
    print(f"took:            {time.monotonic() - started:.0f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
