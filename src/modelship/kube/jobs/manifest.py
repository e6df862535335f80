"""The Job object a plan stands for: the training pod, its lineage labels and annotations."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelship.tracking import lineage

if TYPE_CHECKING:
    from modelship.kube.jobs.plan import JobPlan

# The variables of the run hand-over; nothing else of the runner's environment
# goes into the Job (the runner's environment holds CI secrets).
POD_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "MODELSHIP_PARAMS")
CONTAINER = "train"
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
# A finished Job holds no resources; it stays a day for `kubectl logs`.
KEEP_FINISHED_SECONDS = 86400


def job_manifest(
    plan: JobPlan,
    name: str,
    namespace: str,
    argv: list[str],
    env: Mapping[str, str],
    tags: Mapping[str, str],
) -> dict[str, Any]:
    labels = _labels(env.get("MLFLOW_RUN_ID", ""), tags)
    # The full lineage record, values unrestricted, under the same keys as the run's tags.
    annotations = {key: tags[key] for key in lineage.LINEAGE_TAGS if tags.get(key)}
    annotations["modelship.io/experiment"] = env.get("MLFLOW_EXPERIMENT_NAME", "")
    spec: dict[str, Any] = {
        "backoffLimit": plan.backoff_limit,
        "ttlSecondsAfterFinished": KEEP_FINISHED_SECONDS,
        "template": {"metadata": {"labels": labels}, "spec": _pod_spec(plan, argv, env)},
    }
    if plan.active_deadline is not None:
        spec["activeDeadlineSeconds"] = plan.active_deadline
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    }


def _labels(run_id: str, tags: Mapping[str, str]) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": "modelship-train",
        "app.kubernetes.io/managed-by": "modelship",
        "app.kubernetes.io/component": "training",
        "modelship.io/run-id": run_id,
    }
    for key, label in (
        (lineage.GIT_SHA, "modelship.io/git-sha"),
        (lineage.BRANCH, "modelship.io/branch"),
        (lineage.DATA_VERSION, "modelship.io/data-version"),
        (lineage.CI_PLATFORM, "modelship.io/ci-platform"),
    ):
        value = tags.get(key, "")
        # Label values are restricted; the annotations carry every value as it is.
        if value and LABEL_VALUE.fullmatch(value) and len(value) <= 63:
            labels[label] = value
    return labels


def _pod_spec(plan: JobPlan, argv: list[str], env: Mapping[str, str]) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": plan.image,
        "command": argv,
        "env": [{"name": k, "value": env[k]} for k in POD_ENV if env.get(k)],
    }
    if plan.resources:
        container["resources"] = plan.resources
    if plan.env_from_secrets:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in plan.env_from_secrets]
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if plan.node_selector:
        pod_spec["nodeSelector"] = plan.node_selector
    if plan.tolerations:
        pod_spec["tolerations"] = plan.tolerations
    if plan.service_account:
        pod_spec["serviceAccountName"] = plan.service_account
    return pod_spec
