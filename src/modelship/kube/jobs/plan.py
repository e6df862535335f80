"""The Job to create: what the train stage read from its inputs and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelship.ci.context import StageContext
    from modelship.kube.jobs.submit import JobCompleted
    from modelship.tracking.runs import RunStore


@dataclass
class JobPlan:
    image: str
    namespace: str | None
    kubeconfig: str | None
    context: str | None
    resources: dict[str, dict[str, str]]
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    service_account: str
    env_from_secrets: list[str]
    backoff_limit: int
    active_deadline: int | None
    timeout: float | None

    def run(
        self,
        ctx: StageContext[Any],
        store: RunStore,
        run_id: str,
        argv: list[str],
        env: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> JobCompleted:
        """Create the Job, follow it to its end and return what a local training returns."""
        from modelship.kube.jobs.submit import run_job

        return run_job(self, ctx, store, run_id, argv, env, tags)
