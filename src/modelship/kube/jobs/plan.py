"""The Job to create: what the train stage read from its inputs and checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
