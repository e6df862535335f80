"""Running the CLI in-process as a user would, with an injected environment."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from modelship.cli import main


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str

    @property
    def outputs(self) -> dict[str, str]:
        loaded: dict[str, str] = json.loads(self.stdout.strip().splitlines()[-1])
        return loaded


def run_cli(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> CliRun:
    out, err = io.StringIO(), io.StringIO()
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    code = main(list(argv), env={**base, **(env or {})}, cwd=cwd, stdout=out, stderr=err)
    return CliRun(code, out.getvalue(), err.getvalue())


def parse_github_output(text: str) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT the way the Actions runner does (heredoc form)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        match = re.fullmatch(r"([^=<]+)<<(.+)", line)
        if match:
            name, delimiter = match.groups()
            body: list[str] = []
            index += 1
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, _, value = line.partition("=")
            values[name] = value
        index += 1
    return values
