"""Reading what a run leaves for the CI runner."""

from __future__ import annotations

import re


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
