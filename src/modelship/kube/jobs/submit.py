"""Creating the Job and following it to its end; nothing is left running when it must stop."""

from __future__ import annotations

import collections
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelship.ci.errors import ExternalError, UsageError
from modelship.kube.jobs.follow import JobFollower
from modelship.kube.jobs.inputs import pod_command
from modelship.kube.jobs.manifest import job_manifest
from modelship.kube.jobs.result import JobResult
from modelship.process import TAIL_LINES, Completed, sigterm_as_interrupt

if TYPE_CHECKING:
    from modelship.ci.log import Logger
    from modelship.ci.summary import Summary
    from modelship.kube.api import Kube, KubeError
    from modelship.kube.jobs.plan import JobPlan
    from modelship.tracking.runs import RunStore


@dataclass(frozen=True)
class JobCompleted(Completed):
    """`Completed` with the Kubernetes side of the story."""

    reason: str = ""
    job: str = ""


def run_job(
    plan: JobPlan,
    store: RunStore,
    run_id: str,
    argv: list[str],
    env: Mapping[str, str],
    tags: Mapping[str, str],
    *,
    log: Logger,
    summary: Summary,
    runner_env: Mapping[str, str],
    cwd: Path,
) -> JobCompleted:
    """Run the training as a Job; the MLflow run is marked failed or killed if it cannot.

    `env` is the pod's environment; `runner_env` and `cwd` are this process's,
    against which the plan's kubeconfig is found."""
    from modelship.kube import config as kube_config
    from modelship.kube.api import Kube, KubeError, KubeUnreachable

    name = f"modelship-train-{run_id}"[:63]
    try:
        with kube_config.kubeconfig(
            plan.kubeconfig, plan.context, runner_env, cwd, log.mask
        ) as config:
            kube = Kube(kube_config.api_client(config, log.mask))
            namespace = plan.namespace or context_namespace(config.path, config.context)
            manifest = job_manifest(plan, name, namespace, pod_command(argv), env, tags)
            try:
                return _follow(log, summary, kube, plan, manifest)
            except KubeUnreachable as err:
                raise ExternalError(f"the Kubernetes API server does not answer: {err}") from None
            except KubeError as err:
                raise _kube_error(err, namespace) from None
            finally:
                kube.close()
    except KeyboardInterrupt:
        _finish_run(log, store, run_id, "KILLED")
        raise
    except (UsageError, ExternalError):
        _finish_run(log, store, run_id, "FAILED")
        raise


def _follow(
    log: Logger, summary: Summary, kube: Kube, plan: JobPlan, manifest: dict[str, Any]
) -> JobCompleted:
    started = time.monotonic()
    namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    created = kube.create(manifest)
    log.info(
        f"created Job {namespace}/{name} (image {plan.image}); "
        f"`kubectl -n {namespace} logs -f job/{name}` follows it"
    )
    follower = JobFollower(kube, namespace, name, created)
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    result: JobResult | None = None
    command = " ".join(manifest["spec"]["template"]["spec"]["containers"][0]["command"])
    try:
        with sigterm_as_interrupt(), log.group(f"training on Kubernetes: {command}"):
            follower.start()
            with log.fenced() as write:
                result = follower.wait(plan.timeout, write, tail, log.info)
    finally:
        follower.stop()
        if result is None or result.delete:
            # Cancelled, timed out or stuck: nothing may keep running (and hold a GPU).
            _delete_job(log, kube, namespace, name)
    _summarize(summary, plan, f"{namespace}/{name}", result)
    return JobCompleted(
        returncode=result.exit_code,
        tail=log.redact("\n".join(tail)),
        seconds=time.monotonic() - started,
        timed_out=result.timed_out,
        reason=result.reason,
        job=f"{namespace}/{name}",
    )


def _summarize(summary: Summary, plan: JobPlan, job: str, result: JobResult) -> None:
    rows = [["Job", job], ["image", plan.image], ["result", result.reason or "succeeded"]]
    if result.pod:
        rows.append(["last pod", result.pod])
    summary.table(["Kubernetes", "value"], rows)


def context_namespace(path: Path, context: str | None) -> str:
    """The namespace the kubeconfig's context names, else `default` (as kubectl does)."""
    import yaml

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return "default"
    wanted = context or config.get("current-context")
    for entry in config.get("contexts") or []:
        if isinstance(entry, dict) and entry.get("name") == wanted:
            return str((entry.get("context") or {}).get("namespace") or "default")
    return "default"


def _delete_job(log: Logger, kube: Kube, namespace: str, name: str) -> None:
    """Delete the Job and its pods (Background: the Job goes at once, the pods right after)."""
    try:
        if kube.delete("batch/v1", "Job", namespace, name, propagation="Background"):
            log.info(f"deleted Job {namespace}/{name} and its pods")
    except Exception as err:  # best effort on the way out; say what is left behind
        log.error(
            f"could not delete Job {namespace}/{name}: {str(err)[:200]}; delete it by hand "
            f"(kubectl -n {namespace} delete job {name})"
        )


def _finish_run(log: Logger, store: RunStore, run_id: str, status: str) -> None:
    from modelship.ci.errors import ModelshipError

    try:
        store.finish(run_id, status)
    except ModelshipError as err:
        log.warning(f"could not mark run {run_id} {status}: {err.message}")


def _kube_error(err: KubeError, namespace: str) -> Exception:
    message = f"{err.status} {err.reason}: {err.message}".strip()
    if err.status == 404 and "namespace" in err.message:
        return UsageError(f"namespace {namespace!r} does not exist", "create it or fix `namespace`")
    if err.status in (401, 403):
        return UsageError(
            f"the cluster refused: {message[:300]}",
            "the kubeconfig's user needs the Role in docs/training-at-scale.md in namespace "
            f"{namespace}",
        )
    if err.status in (400, 422):
        return UsageError(f"the cluster rejected the Job: {message[:400]}")
    return ExternalError(f"the Kubernetes API server failed: {message[:300]}")
