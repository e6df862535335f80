"""Writing stage outputs where the next job can read them.

* GitHub: `$GITHUB_OUTPUT`, one heredoc per value with a random delimiter.
* GitLab: a dotenv report with `MODELSHIP_<STAGE>_<OUTPUT>` names, kept within
  GitLab's limits; a value that does not fit (or holds any line or paragraph
  separator, which dotenv cannot carry) goes to a file and the variable holds
  its path. The file is read and written line by `\n` only, as GitLab reads it.
* Locally: `.modelship/outputs/<stage>.json`.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelship.ci.errors import UsageError
from modelship.ci.platform import Platform

# GitLab refuses a dotenv artifact over 5 KB (the gitlab.com and default
# self-managed `dotenv_size` limit); keep a margin for the line framing.
DOTENV_MAX_BYTES = 5 * 1024
DOTENV_MAX_VARIABLES = 20


def render_value(value: Any) -> str:
    """Outputs are strings: booleans as true/false, structures as compact JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"output value {value!r} is not a finite number")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), allow_nan=False, sort_keys=False)
    return str(value)


def github_output_block(name: str, value: str, delimiter: str | None = None) -> str:
    """One `name<<DELIM` heredoc block, as @actions/core writes it."""
    delim = delimiter or f"ghadelimiter_{secrets.token_hex(16)}"
    if delim in name or delim in value:
        raise UsageError(
            f"output '{name}' contains the output delimiter and cannot be written safely"
        )
    if "\n" in name or "\r" in name:
        raise UsageError(f"output name {name!r} contains a line break")
    return f"{name}<<{delim}\n{value}\n{delim}\n"


def write_github(path: Path, outputs: Mapping[str, str]) -> None:
    blocks = "".join(github_output_block(name, value) for name, value in outputs.items())
    with path.open("a", encoding="utf-8") as handle:
        handle.write(blocks)


def breaks_lines(value: str) -> bool:
    """True when any reader would see more than one line in `value`.

    GitLab splits a dotenv on `\n` only, but Python's `splitlines()` (and
    others) also split on CR, VT, FF, FS/GS/RS, NEL, U+2028 and U+2029: such a
    value could forge a variable for one reader and not the other.
    """
    return len(f"x{value}x".splitlines()) > 1


def dotenv_name(stage: str, output: str) -> str:
    return f"MODELSHIP_{stage}_{output}".upper().replace("-", "_")


def write_gitlab(
    dotenv: Path, spill_dir: Path, stage: str, outputs: Mapping[str, str]
) -> dict[str, str]:
    """Write the dotenv report; return the variables as written (paths for spills)."""
    written: dict[str, str] = {}
    used = 0
    for name, value in outputs.items():
        var = dotenv_name(stage, name)
        line = f"{var}={value}\n"
        fits = used + len(line.encode()) <= DOTENV_MAX_BYTES - 256
        if breaks_lines(value) or not fits or len(written) >= DOTENV_MAX_VARIABLES:
            spill_dir.mkdir(parents=True, exist_ok=True)
            spill = spill_dir / f"{stage}-{name}.txt"
            with spill.open("w", encoding="utf-8", errors="surrogateescape", newline="") as out:
                out.write(value)
            value = str(spill)
            line = f"{var}={value}\n"
        written[var] = value
        used += len(line.encode())
    # Several stages may share one job: keep their lines, replace ours.
    kept: list[str] = []
    if dotenv.exists():
        prefix = dotenv_name(stage, "")
        # newline="": no universal-newline translation, a CR stays inside its line.
        with dotenv.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
            existing = handle.read()
        kept = [
            f"{line}\n" for line in existing.split("\n") if line and not line.startswith(prefix)
        ]
    dotenv.parent.mkdir(parents=True, exist_ok=True)
    lines = [*kept, *(f"{var}={value}\n" for var, value in written.items())]
    with dotenv.open("w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        handle.write("".join(lines))
    return written


def write_local(directory: Path, stage: str, outputs: Mapping[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stage}.json"
    path.write_text(json.dumps(dict(outputs), indent=2) + "\n", encoding="utf-8")
    return path


def publish(platform: Platform, stage: str, outputs: Mapping[str, str]) -> None:
    """Outputs everywhere: the local JSON first, then the platform's file."""
    publish_local(platform, stage, outputs)
    publish_platform(platform, stage, outputs)


def publish_local(platform: Platform, stage: str, outputs: Mapping[str, str]) -> Path:
    # Local JSON is written everywhere: later stages and `modelship lineage`
    # read it, and it costs nothing on a CI runner.
    return write_local(platform.workspace / ".modelship" / "outputs", stage, outputs)


def publish_platform(platform: Platform, stage: str, outputs: Mapping[str, str]) -> None:
    """`$GITHUB_OUTPUT` or the GitLab dotenv; OSError names the file that failed."""
    from modelship.ci.paths import confine

    env = platform.env
    workspace = platform.workspace
    if platform.name == "github":
        target = env.get("GITHUB_OUTPUT")
        if target:
            write_github(Path(target), outputs)
    elif platform.name == "gitlab":
        dotenv = confine(env.get("MODELSHIP_DOTENV", "modelship.env"), workspace, "dotenv file")
        spill = confine("modelship-reports/outputs", workspace)
        write_gitlab(dotenv, spill, stage, outputs)


def read_local(workspace: Path, stage: str) -> dict[str, str]:
    """Outputs of an earlier stage run in the same workspace (local chaining)."""
    path = workspace / ".modelship" / "outputs" / f"{stage}.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
