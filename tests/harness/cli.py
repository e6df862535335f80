"""The one way tests run `modelship`: in-process through `main`, as a user
would, with an injected environment, working directory and streams."""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.cli import main

BIN = Path(sys.executable).parent

# Variables of the machine's own CI or tracking set-up that must not leak into a run.
LEAKY_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "RUNNER_", "MLFLOW_", "INPUT_", "MODELSHIP_", "DVC_")


def host_env(**extra: str) -> dict[str, str]:
    """This machine's environment minus any CI or tracking set-up, with the
    test environment's tools (dvc, mlflow, python) first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_PREFIXES) and k != "CI"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.update(extra)
    return env


def bare_env(cwd: Path) -> dict[str, str]:
    """The least a process needs: the system PATH and a HOME of its own."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    # When each piece of stderr arrived: shows whether a stage streams its log.
    writes: list[tuple[float, str]] = field(default_factory=list)

    @property
    def outputs(self) -> dict[str, str]:
        """The outputs of a `--json` run: the last line of stdout."""
        loaded: dict[str, str] = json.loads(self.stdout.strip().splitlines()[-1])
        return loaded

    def json(self, name: str) -> Any:
        """An output that itself holds JSON, decoded."""
        return json.loads(self.outputs[name])


class _TimedStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.writes.append((time.monotonic(), text))
        return super().write(text)


def run_cli(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    *,
    json_outputs: bool = False,
    inherit: bool = False,
) -> CliRun:
    """`modelship <argv>` in `cwd`; `env` is laid over `bare_env(cwd)`, or over
    `host_env()` with `inherit`. `json_outputs` adds `--json`, so the outputs
    are the last line of stdout (`CliRun.outputs`)."""
    base = host_env() if inherit else bare_env(cwd)
    args = [*argv, "--json"] if json_outputs else list(argv)
    out, err = io.StringIO(), _TimedStream()
    code = main(args, env={**base, **(env or {})}, cwd=cwd, stdout=out, stderr=err)
    return CliRun(code, out.getvalue(), err.getvalue(), err.writes)
