"""Reading a rendered Containerfile the way a builder does: logical lines, LABEL words."""

from __future__ import annotations

import json
from typing import Any


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _words(text: str) -> list[str]:
    """Split `"k"="v" k2=v2` the way the Dockerfile parser does for LABEL."""
    words: list[str] = []
    word = ""
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and index + 1 < len(text) and text[index + 1] in '"\\$':
                word += text[index + 1]
                index += 2
                continue
            if char == quote:
                quote = ""
            else:
                word += char
        elif char in "\"'":
            quote = char
        elif char.isspace():
            if word:
                words.append(word)
                word = ""
        elif char == "\\" and index + 1 < len(text):
            word += text[index + 1]
            index += 2
            continue
        else:
            word += char
        index += 1
    if word:
        words.append(word)
    return words


def parse_containerfile(text: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "base": "",
        "labels": {},
        "user": "",
        "healthcheck": [],
        "cmd": [],
        "steps": [],
    }
    for line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        info["steps"].append(f"{instruction} {rest.strip()}"[:120])
        if instruction == "FROM":
            info["base"] = rest.split()[0]
        elif instruction == "LABEL":
            for word in _words(rest):
                key, _, value = word.partition("=")
                info["labels"][key] = value
        elif instruction == "USER":
            info["user"] = rest.strip()
        elif instruction == "HEALTHCHECK":
            cmd = rest[rest.find("CMD") + 3 :].strip() if "CMD" in rest else ""
            info["healthcheck"] = ["CMD", *json.loads(cmd)] if cmd.startswith("[") else []
        elif instruction == "CMD":
            info["cmd"] = json.loads(rest) if rest.strip().startswith("[") else ["sh", "-c", rest]
    return info
