"""What a stage receives and returns.

A stage is a function `run(ctx: StageContext[<its input names>]) -> Result`. The context carries
the environment (injected, as httpie does, so tests run a stage as a user would
without patching globals), the typed inputs, a logger and the summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic

from modelship.ci.inputs import Inputs, Name
from modelship.ci.log import Logger
from modelship.ci.platform import Platform
from modelship.ci.summary import Summary
from modelship.spec import Stage


@dataclass
class StageContext(Generic[Name]):
    stage: Stage
    inputs: Inputs[Name]
    platform: Platform
    log: Logger
    summary: Summary
    env: Mapping[str, str]
    cwd: Path

    @property
    def workspace(self) -> Path:
        return self.platform.workspace

    @property
    def reports_dir(self) -> Path:
        return self.workspace / "modelship-reports"

    def path(self, value: str | Path, what: str = "path") -> Path:
        """A user-given path: relative to the current folder, confined to the workspace."""
        from modelship.ci.paths import confine

        candidate = Path(value)
        if not candidate.is_absolute():
            candidate = self.cwd / candidate
        return confine(candidate, self.workspace, what)


@dataclass
class Result:
    """Outputs of a stage, and whether a gate said no.

    A failed gate still publishes its outputs (`passed=false`, the report
    path), so later jobs and people can see why.
    """

    outputs: dict[str, Any] = field(default_factory=dict)
    gate_failed: str | None = None
    # Secrets discovered while running (e.g. a token read from a file).
    secrets: list[str] = field(default_factory=list)
