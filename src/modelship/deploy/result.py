"""What a deploy did, whatever the target (Kubernetes or Docker): the deploy stage's outputs."""

from __future__ import annotations

from dataclasses import dataclass

from modelship.deploy import smoke


@dataclass
class DeployResult:
    status: str = "failed"  # succeeded | rolled-back | failed
    endpoint: str = ""
    revision: str = ""
    previous_revision: str = ""
    rolled_back: bool = False
    serving: str = ""
    reason: str = ""
    smoke: smoke.SmokeResult | None = None
