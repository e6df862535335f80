"""`train`: run the training inside an MLflow run that carries its lineage."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelship.ci.context import Result, StageContext
from modelship.spec import Input, Output, Stage

if TYPE_CHECKING:
    from modelship.kube.jobs.submit import JobCompleted
    from modelship.process import Completed
    from modelship.stages.input_names import TrainInput
    from modelship.tracking.runs import LoggedModel, RunState, RunStore

STAGE = Stage(
    name="train",
    title="Train",
    description=(
        "Open an MLflow run with lineage tags (git SHA, branch, CI run, data version), run "
        "the training in it (`dvc repro`, `mlflow run .` or a command) with its output "
        "streamed live, and publish the run, the logged model's URI and the final metrics."
    ),
    run="modelship.stages.train:run",
    extras=("mlflow", "kube"),
    gitlab_stage="build",
    inputs=(
        Input(
            "mode",
            "How to train: `auto` (a given `command`, else `dvc repro` when `dvc.yaml` "
            "exists, else `mlflow run .` when `MLproject` exists), `dvc`, `mlflow` or "
            "`command`.",
            default="auto",
            options=("auto", "dvc", "mlflow", "command"),
        ),
        Input(
            "command",
            "Training command, run without a shell, e.g. `python train.py --epochs 3`.",
            default="",
        ),
        Input(
            "working-directory",
            "Directory the training runs in, inside the workspace, e.g. `project/`.",
            type="path",
            default=".",
        ),
        Input(
            "experiment",
            "MLflow experiment name, created when missing; default: the repository name.",
            default="",
        ),
        Input(
            "tracking-uri",
            "MLflow tracking URI, e.g. `https://mlflow.example.com`; default "
            "`$MLFLOW_TRACKING_URI`, else `sqlite:///mlruns.db` in the workspace.",
            default="",
            kind="tracking-uri",
        ),
        Input("run-name", "Name of the MLflow run, e.g. `nightly`; default: MLflow's.", default=""),
        Input(
            "params",
            "Parameters as `key=value` lines, e.g. `train.C=0.5`: logged on the run and passed "
            "on (`MODELSHIP_PARAMS` JSON; `dvc exp run -S`; `mlflow run -P`).",
            default="",
        ),
        Input(
            "metrics-file",
            "JSON or YAML metrics the training writes, relative to the working directory, "
            "e.g. `metrics.json`; with DVC, default: the metrics files in `dvc.yaml`.",
            default="",
            kind="file",
        ),
        Input(
            "data-version",
            "Data fingerprint for the lineage tags, e.g. the `data` stage's `data-version` "
            "output; default: that output when it is at hand.",
            default="",
            pattern=r"[A-Za-z0-9._:+-]{1,128}",
        ),
        Input(
            "timeout",
            "Seconds before the training is stopped and the run marked FAILED, e.g. `3600`; "
            "empty for no limit.",
            type="number",
            default="",
            kind="duration",
        ),
        # The kubernetes backend (modelship.kube.jobs; docs/training-at-scale.md).
        Input(
            "backend",
            "Where the training runs: `local` (this job) or `kubernetes` (a Job in a cluster; "
            "needs `image`).",
            default="local",
            options=("local", "kubernetes"),
        ),
        Input(
            "image",
            "Training image of the Kubernetes Job, with the project and its requirements, "
            "e.g. `ghcr.io/acme/churn-train:1.4.0`; required with backend kubernetes.",
            default="",
        ),
        Input(
            "namespace",
            "Kubernetes namespace of the Job, e.g. `ml-training`; default: the kubeconfig "
            "context's.",
            default="",
            kind="k8s-namespace",
        ),
        Input(
            "kubeconfig",
            "Kubeconfig: a path, or its content (YAML or base64). A secret; default `$KUBECONFIG`.",
            default=None,
            secret=True,
            kind="kubeconfig",
        ),
        Input(
            "kube-context", "Kubeconfig context to use (default: its current context).", default=""
        ),
        Input(
            "resources",
            "Container resources as `key=value` lines, request and limit alike, e.g. "
            "`nvidia.com/gpu=1`, `memory=16Gi`; `requests.cpu=2` or `limits.cpu=4` for one side.",
            default="",
        ),
        Input(
            "node-selector",
            "Node labels as `key=value` lines, e.g. `cloud.google.com/gke-accelerator=nvidia-l4`.",
            default="",
        ),
        Input(
            "tolerations",
            "Tolerations as `key[=value][:Effect]` lines, e.g. `nvidia.com/gpu:NoSchedule`, "
            "or a YAML list.",
            default="",
        ),
        Input(
            "service-account",
            "Service account of the Job's pod, e.g. `trainer`.",
            default="",
            kind="k8s-name",
        ),
        Input(
            "env-from-secret",
            "Secrets whose keys become the pod's environment (lines or commas), e.g. "
            "`mlflow-credentials`.",
            type="list",
            default="",
        ),
        Input(
            "backoff-limit",
            "Retries of a failed training pod (`backoffLimit`), e.g. `2`.",
            type="number",
            default="0",
            kind="integer",
            minimum=0,
            maximum=100,
        ),
        Input(
            "active-deadline",
            "Longest the Job may run, pending time included (`activeDeadlineSeconds`), "
            "e.g. `6h`; empty for none.",
            default="",
            pattern=r"[0-9]+(\.[0-9]+)?(ms|s|m|h)?",
            kind="duration",
        ),
    ),
    outputs=(
        Output("run-id", "MLflow run id, e.g. `0a1b2c...`."),
        Output("experiment-id", "MLflow experiment id."),
        Output(
            "model-uri",
            "URI of the model logged in the run, as MLflow reports it: `models:/m-<id>` "
            "(MLflow 3) or `runs:/<run-id>/<path>`.",
        ),
        Output("metrics", 'Final metric values as a JSON object, e.g. `{"accuracy":0.97}`.'),
        Output("run-url", "Link to the run in the tracking UI (http(s) tracking URIs only)."),
        Output("tracking-uri", "The tracking URI used (password removed)."),
    ),
    example_with={"command": "python train.py", "experiment": "churn"},
)


# The variables the training process reads to join the run modelship opened.
RUN_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID")


@dataclass(frozen=True)
class Plan:
    """What to run, decided from the inputs before MLflow is contacted."""

    mode: str
    argv: list[str]
    workdir: Path
    params: dict[str, str]
    metrics_files: list[Path]


def run(ctx: StageContext[TrainInput]) -> Result:
    from modelship.ci.redact import redact_url
    from modelship.tracking.lineage import lineage_tags
    from modelship.tracking.runs import RunStore, now_ms
    from modelship.tracking.uris import resolve_tracking_uri, run_url, uri_secrets

    plan = _plan(ctx)
    uri = resolve_tracking_uri(ctx.inputs.optional("tracking-uri"), ctx.env, ctx.workspace)
    for secret in uri_secrets(uri, ctx.env):
        ctx.log.mask(secret)
    shown_uri = redact_url(uri)
    job = None
    if ctx.inputs.text("backend") == "kubernetes":
        from modelship.stages.train_kube import job_plan

        job = job_plan(ctx, uri, plan.metrics_files)  # exit 2 before the run opens
    experiment = ctx.inputs.optional("experiment") or ctx.platform.repository_name
    data_version = _data_version(ctx)
    sha, branch = _git(ctx)

    store = RunStore(uri, ctx.env)
    experiment_id = store.experiment_id(experiment)
    tags = lineage_tags(ctx.platform, sha, branch, data_version)
    tags["mlflow.source.name"] = " ".join(plan.argv)[:500]
    tags["modelship.train.mode"] = plan.mode
    run_id = store.create_run(experiment_id, ctx.inputs.optional("run-name"), tags)
    url = run_url(uri, experiment_id, run_id)
    ctx.log.info(
        f"MLflow run {run_id} in experiment {experiment!r} ({shown_uri})"
        + (f": {url}" if url else "")
    )
    outputs: dict[str, object] = {
        "run-id": run_id,
        "experiment-id": experiment_id,
        "model-uri": "",
        "metrics": {},
        "run-url": url,
        "tracking-uri": shown_uri,
    }

    env = _training_env(ctx, plan, uri, experiment, run_id)
    started_ms = now_ms()
    completed: Completed
    if job:
        from modelship.kube.jobs.submit import run_job

        completed = run_job(
            job, store, run_id, plan.argv, env, tags,
            log=ctx.log, summary=ctx.summary, runner_env=ctx.env, cwd=ctx.cwd,
        )  # fmt: skip
    else:
        completed = _run_training(ctx, store, run_id, plan, env)
    session = Session(store, run_id, experiment_id, experiment, plan, outputs, tags, started_ms)
    if completed.returncode != 0 or completed.timed_out:
        if plan.params:
            _log_params(ctx, session, store.get_run(run_id))
        return _failed(ctx, session, completed)
    state = store.get_run(run_id)  # read once: for the parameters, metrics and models
    _log_params(ctx, session, state)
    return _finish(ctx, session, state)


def _training_env(
    ctx: StageContext[TrainInput], plan: Plan, uri: str, experiment: str, run_id: str
) -> dict[str, str]:
    """The training's environment: the job's, plus the run it must log to. Passed to
    the child process explicitly; this process's own environment stays as it is."""
    env = dict(ctx.env)
    env.update(
        {
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_EXPERIMENT_NAME": experiment,
            "MLFLOW_RUN_ID": run_id,
            "MODELSHIP_PARAMS": json.dumps(plan.params),
        }
    )
    if plan.mode == "mlflow":
        # `mlflow run` takes the experiment from MLFLOW_EXPERIMENT_NAME.
        plan.argv.extend(["--run-id", run_id])
    env.pop("MLFLOW_EXPERIMENT_ID", None)  # would contradict the run's experiment
    return env


def _failed(
    ctx: StageContext[TrainInput], session: Session, completed: Completed | JobCompleted
) -> Result:
    """The training failed or timed out: the run is marked FAILED and the gate says no."""
    session.store.finish(session.run_id, "FAILED")
    why = getattr(completed, "reason", "") or (
        f"training timed out after {ctx.inputs.number('timeout'):g}s"
        if completed.timed_out
        else f"training failed with exit code {completed.returncode}"
    )
    ctx.summary.text(f"Failed: {why}; the MLflow run is marked FAILED.")
    _summary(ctx, session.outputs, session.experiment, session.plan)
    ctx.summary.code(completed.tail or "(no output)", title="Last lines of the training output")
    return Result(
        session.outputs, gate_failed=f"{why}; the MLflow run {session.run_id} is marked FAILED"
    )


@dataclass
class Session:
    """The open MLflow run and what is known about it so far."""

    store: RunStore
    run_id: str
    experiment_id: str
    experiment: str
    plan: Plan
    outputs: dict[str, object]
    tags: dict[str, str]
    started_ms: int  # when the training started


def _finish(ctx: StageContext[TrainInput], session: Session, state: RunState) -> Result:
    from modelship.evaluation.metrics_file import MetricsFileError, check_finite, read_metrics

    store, run_id, plan, outputs = session.store, session.run_id, session.plan, session.outputs
    experiment = session.experiment

    try:
        from_files: dict[str, float] = {}
        for path in plan.metrics_files:
            from_files.update(read_metrics(path, _shown(ctx, path)))
        missing = {k: v for k, v in from_files.items() if state.metrics.get(k) != v}
        store.log_batch(run_id, metrics=missing)
        metrics = {**state.metrics, **from_files}
        check_finite(metrics, f"MLflow run {run_id}")
    except MetricsFileError as err:
        store.finish(run_id, "FAILED")
        ctx.summary.text(f"Failed: {err.message}; the MLflow run is marked FAILED.")
        _summary(ctx, outputs, experiment, plan)
        return Result(
            outputs, gate_failed=f"{err.line()}; the MLflow run {run_id} is marked FAILED"
        )
    outputs["metrics"] = dict(sorted(metrics.items()))

    models, unclear = _find_models(ctx, session, state.tags)
    if len(models) > 1:
        ctx.log.warning(
            f"the run logged {len(models)} models; model-uri is the last one "
            f"({', '.join(m.name or m.uri for m in models)})"
        )
    store.finish(run_id, "FINISHED")
    if models:
        outputs["model-uri"] = models[-1].uri
    if unclear:
        ctx.summary.text(f"Failed: {unclear}")
    elif not models:
        ctx.summary.text("Failed: the training logged no model in this run.")
    _summary(ctx, outputs, experiment, plan)
    if unclear:
        return Result(outputs, gate_failed=unclear)
    if not models:
        return Result(
            outputs,
            gate_failed=(
                f"the training finished but logged no model in MLflow run {run_id}; "
                "log one in that run, e.g. mlflow.sklearn.log_model(model, name='model')"
                + (
                    " (with DVC, a stage that dvc repro skips as unchanged trains nothing: "
                    "mark it always_changed: true)"
                    if plan.mode == "dvc"
                    else ""
                )
            ),
        )
    ctx.log.info(f"model: {outputs['model-uri']}")
    return Result(outputs)


def _find_models(
    ctx: StageContext[TrainInput], session: Session, run_tags: dict[str, str]
) -> tuple[list[LoggedModel], str]:
    """The models logged in the run, else the one the training logged outside it (MLflow 3
    `log_model` without `start_run`), adopted by the run; and why no model can be chosen."""
    models = session.store.logged_models(session.experiment_id, session.run_id, run_tags)
    if models:
        return models, ""

    from modelship.tracking import logged_models, registry
    from modelship.tracking.runs import LoggedModel, now_ms

    client = session.store.client
    shown = session.store.shown
    found = registry.guarded(
        lambda: logged_models.unlinked_models(
            client, session.experiment_id, session.started_ms, now_ms()
        ),
        f"could not search the models logged in experiment {session.experiment!r} ({shown})",
    )
    if len(found) > 1:
        listing = ", ".join(f"{m.uri} ({m.name})" for m in found)
        return [], (
            f"the training logged {len(found)} models outside MLflow run {session.run_id}, "
            f"so which one it trained is unclear: {listing}; {_LOG_IN_THE_RUN}"
        )
    if not found:
        return [], ""
    model = found[0]
    registry.guarded(
        lambda: logged_models.adopt(client, session.run_id, model, session.tags),
        f"could not link the model {model.uri} to MLflow run {session.run_id} ({shown})",
    )
    ctx.log.warning(
        f"the model {model.uri} was logged outside MLflow run {session.run_id} and is now "
        f"linked to it; {_LOG_IN_THE_RUN}"
    )
    return [LoggedModel(model.uri, model.name, model.created_ms)], ""


# mlflow.start_run() joins the run named by MLFLOW_RUN_ID, which the training is given.
_LOG_IN_THE_RUN = (
    "log the model inside the run: with mlflow.start_run(): "
    "mlflow.<flavor>.log_model(model, name='model')"
)


def _plan(ctx: StageContext[TrainInput]) -> Plan:
    from modelship.ci.errors import UsageError
    from modelship.ci.inputs import parse_key_values
    from modelship.process import split_command

    workdir = ctx.path(ctx.inputs.text("working-directory") or ".", "input 'working-directory'")
    if not workdir.is_dir():
        raise UsageError(f"input 'working-directory': {workdir} is not a directory")
    params = parse_key_values("params", ctx.inputs.text("params"))
    command = ctx.inputs.optional("command")
    mode = ctx.inputs.text("mode") or "auto"
    if mode == "auto":
        if command:
            mode = "command"
        elif (workdir / "dvc.yaml").is_file():
            mode = "dvc"
        elif (workdir / "MLproject").is_file():
            mode = "mlflow"
        else:
            raise UsageError(
                f"no training command: {_shown(ctx, workdir)} has no dvc.yaml or MLproject",
                "set the command input, e.g. `python train.py`",
            )
    elif command and mode != "command":
        raise UsageError(
            f"input 'command' is only used with mode command or auto; mode is {mode}",
            "drop the command input, or set mode: command",
        )

    if mode == "command":
        if not command:
            raise UsageError(
                "no training command: mode is command but the command input is empty",
                "set the command input, e.g. `python train.py`",
            )
        argv = split_command(command, "command")
    elif mode == "dvc":
        if not (workdir / "dvc.yaml").is_file():
            raise UsageError(f"mode dvc needs a dvc.yaml in {_shown(ctx, workdir)}")
        dvc = _tool(ctx, "dvc")
        if params:
            # `dvc repro` takes no parameters; `dvc exp run` applies them to params.yaml.
            argv = [*dvc, "exp", "run"]
            for key, value in params.items():
                argv.extend(["--set-param", f"{key}={value}"])
        else:
            argv = [*dvc, "repro"]
    else:
        if not (workdir / "MLproject").is_file():
            raise UsageError(f"mode mlflow needs an MLproject file in {_shown(ctx, workdir)}")
        argv = [*_tool(ctx, "mlflow"), "run", ".", "--env-manager", "local"]
        for key, value in params.items():
            argv.extend(["-P", f"{key}={value}"])

    return Plan(mode, argv, workdir, params, _metrics_files(ctx, workdir, mode))


def _metrics_files(ctx: StageContext[TrainInput], workdir: Path, mode: str) -> list[Path]:
    given = ctx.inputs.optional("metrics-file")
    if given:
        from modelship.ci.paths import confine

        return [confine(workdir / given, ctx.workspace, "input 'metrics-file'")]
    if mode != "dvc":
        return []
    import yaml

    try:
        document = yaml.safe_load((workdir / "dvc.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    found: list[Path] = []
    stages = document.get("stages") if isinstance(document, dict) else None
    for stage in (stages or {}).values():
        for entry in (stage or {}).get("metrics", []) if isinstance(stage, dict) else []:
            name = next(iter(entry)) if isinstance(entry, dict) else entry
            if isinstance(name, str) and "${" not in name:
                found.append(workdir / name)
    for entry in document.get("metrics", []) if isinstance(document, dict) else []:
        if isinstance(entry, str):
            found.append(workdir / entry)
    return found


def _tool(ctx: StageContext[TrainInput], name: str) -> list[str]:
    """`dvc` or `mlflow` from the job's PATH, else this Python's module of that name."""
    import importlib.util

    from modelship.ci.errors import UsageError

    found = shutil.which(name, path=ctx.env.get("PATH"))
    if found:
        return [found]
    if importlib.util.find_spec(name) is not None:
        return [sys.executable, "-m", name]
    extra = "data" if name == "dvc" else "mlflow"
    raise UsageError(
        f"{name} is not installed",
        f"install it in the job (pip install {name}, or modelship-ci[{extra}])",
    )


def _data_version(ctx: StageContext[TrainInput]) -> str | None:
    given = ctx.inputs.optional("data-version")
    if given:
        return given
    # The data stage's output, when it ran earlier in this pipeline.
    from_gitlab = ctx.env.get("MODELSHIP_DATA_DATA_VERSION")
    if from_gitlab:
        ctx.log.info(f"data version {from_gitlab} from the data stage's GitLab output")
        return from_gitlab
    if ctx.platform.name == "local":
        from modelship.ci.outputs import read_local

        try:
            local = read_local(ctx.workspace, "data").get("data-version")
        except (OSError, ValueError):
            local = None
        if local:
            ctx.log.info(f"data version {local} from the last local `modelship data` run")
            return local
    return None


def _git(ctx: StageContext[TrainInput]) -> tuple[str, str]:
    from modelship.ci.errors import ModelshipError
    from modelship.source.refs import read_ref

    try:
        ref = read_ref(ctx.platform, ctx.cwd)
    except ModelshipError as err:
        ctx.log.warning(f"no git lineage on the run: {err.message}")
        return "", ""
    return ref.sha, ref.branch


def _run_training(
    ctx: StageContext[TrainInput], store: RunStore, run_id: str, plan: Plan, env: dict[str, str]
) -> Completed:
    from modelship.ci.errors import ModelshipError
    from modelship.process import run_streaming, sigterm_as_interrupt

    timeout = ctx.inputs.number("timeout")
    try:
        with ctx.log.group(f"training: {' '.join(plan.argv)}"), sigterm_as_interrupt():
            return run_streaming(plan.argv, plan.workdir, env, ctx.log, timeout=timeout or None)
    except KeyboardInterrupt:
        # The job was cancelled; run_streaming stopped the training's process group.
        _mark(ctx, store, run_id, "KILLED")
        raise
    except ModelshipError:
        # The command could not start.
        _mark(ctx, store, run_id, "FAILED")
        raise


def _mark(ctx: StageContext[TrainInput], store: RunStore, run_id: str, status: str) -> None:
    from modelship.ci.errors import ModelshipError

    try:
        store.finish(run_id, status)
    except ModelshipError as err:
        ctx.log.warning(f"could not mark run {run_id} {status}: {err.message}")


def _log_params(ctx: StageContext[TrainInput], session: Session, state: RunState) -> None:
    """Log the given parameters the training did not log itself (`state`: the run as the
    training left it)."""
    params, logged = session.plan.params, state.params
    if not params:
        return
    for key, value in params.items():
        if key in logged and logged[key] != value:
            ctx.log.warning(f"parameter {key}: the training logged {logged[key]!r}, not {value!r}")
    session.store.log_batch(
        session.run_id, params={k: v for k, v in params.items() if k not in logged}
    )


def _summary(
    ctx: StageContext[TrainInput], outputs: dict[str, object], experiment: str, plan: Plan
) -> None:
    rows: list[list[object]] = [
        ["experiment", experiment],
        ["run", outputs["run-id"]],
        ["model", outputs["model-uri"] or "(none)"],
        ["tracking", outputs["tracking-uri"]],
        ["mode", f"{plan.mode}: {' '.join(plan.argv)}"],
    ]
    if outputs["run-url"]:
        rows.append(["run URL", outputs["run-url"]])
    ctx.summary.table(["run", "value"], rows)
    metrics = outputs["metrics"]
    if isinstance(metrics, dict) and metrics:
        ctx.summary.table(["metric", "value"], [[k, f"{v:.6g}"] for k, v in metrics.items()])
    if plan.params:
        ctx.summary.table(["parameter", "value"], [[k, v] for k, v in plan.params.items()])


def _shown(ctx: StageContext[TrainInput], path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ctx.workspace.resolve())) or "."
    except ValueError:
        return str(path)
