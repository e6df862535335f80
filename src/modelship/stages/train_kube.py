"""The train stage's `kubernetes` backend, on the stage's side: read and check the
inputs that describe the Job before the MLflow run opens (exit 2), and hand the
core (`modelship.kube.jobs`) a plain `JobPlan`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelship.ci.errors import UsageError

if TYPE_CHECKING:
    from modelship.ci.context import StageContext
    from modelship.kube.jobs import JobPlan
    from modelship.stages.input_names import TrainInput


def job_plan(ctx: StageContext[TrainInput], tracking_uri: str, metrics_files: list[Any]) -> JobPlan:
    """The plan, or `UsageError` for inputs a Job cannot honour."""
    from modelship.ci.inputs import parse_key_values
    from modelship.kube.jobs import JobPlan
    from modelship.kube.jobs.inputs import (
        parse_count,
        parse_duration,
        parse_resources,
        parse_tolerations,
    )

    _require_client()
    image = ctx.inputs.optional("image")
    if not image:
        raise UsageError(
            "input 'image' is required with backend kubernetes: the training image the "
            "Job's pod runs",
            "set image, e.g. ghcr.io/acme/churn-train:1.4.0 (an image with the project, "
            "Python and its requirements, and mlflow)",
        )
    _check_tracking_uri(tracking_uri)
    _check_files(ctx)
    # DVC metrics files in the checkout are not what the pod wrote: read none.
    metrics_files.clear()
    deadline = ctx.inputs.optional("active-deadline")
    backoff = ctx.inputs.optional("backoff-limit")
    return JobPlan(
        image=image,
        namespace=ctx.inputs.optional("namespace"),
        kubeconfig=ctx.inputs.optional("kubeconfig"),
        context=ctx.inputs.optional("kube-context"),
        resources=parse_resources(ctx.inputs.text("resources")),
        node_selector=parse_key_values("node-selector", ctx.inputs.text("node-selector")),
        tolerations=parse_tolerations(ctx.inputs.text("tolerations")),
        service_account=ctx.inputs.optional("service-account") or "",
        env_from_secrets=ctx.inputs.items("env-from-secret"),
        backoff_limit=parse_count(backoff, "backoff-limit") if backoff else 0,
        active_deadline=max(1, round(parse_duration(deadline))) if deadline else None,
        timeout=ctx.inputs.number("timeout") or None,
    )


def _require_client() -> None:
    import importlib.util

    if importlib.util.find_spec("kubernetes") is None:
        raise UsageError(
            "backend kubernetes needs the Kubernetes client, which is not installed",
            "install the kube extra: pip install 'modelship-ci[mlflow,kube]'",
        )


def _check_tracking_uri(tracking_uri: str) -> None:
    """The pod logs to the tracking server itself: it must be reachable and carry no password."""
    from urllib.parse import urlsplit

    if tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri:
        raise UsageError(
            f"tracking URI {tracking_uri.partition('?')[0]!r} is a file on this runner: the "
            "Job's pod cannot reach it, so the training would log nowhere",
            "use a tracking server the pod can reach: an in-cluster MLflow service "
            "(http://mlflow.mlflow.svc:5000) or a public https URI; see "
            "docs/training-at-scale.md",
        )
    if urlsplit(tracking_uri).password:
        raise UsageError(
            "the tracking URI carries a password, which would be written into the Job",
            "put MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in a Secret, pass "
            "it with env-from-secret, and drop the password from the URI",
        )


def _check_files(ctx: StageContext[TrainInput]) -> None:
    """Inputs naming files of this checkout mean nothing to the pod."""
    if ctx.inputs.optional("metrics-file"):
        raise UsageError(
            "input 'metrics-file' cannot be used with backend kubernetes: the pod's files "
            "do not come back to the runner",
            "log the metrics to MLflow in the training (mlflow.log_metrics), then they "
            "are in the metrics output",
        )
    if (ctx.inputs.text("working-directory") or ".").strip("./"):
        ctx.log.warning(
            "input 'working-directory' is a folder of this checkout; the Job's pod runs "
            "the command in the image's working directory"
        )
