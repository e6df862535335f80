"""Put the generated files in the repository, never through a link out of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelship.ci.errors import UsageError


@dataclass(frozen=True)
class NewFile:
    path: str  # relative to the repository root, with `/`
    text: str
    replaceable: bool  # `--force` may replace it (the pipeline; never the user's payload)


def inside(root: Path, relative: str) -> Path:
    """`root/relative`, refused when it resolves (links included) outside `root`."""
    base = root.resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise UsageError(f"{relative} resolves outside the repository", "remove the link")
    return target


def write_files(root: Path, files: list[NewFile], force: bool) -> list[str]:
    """Write `files`; checks every one before writing any, so a refusal writes nothing."""
    targets = [(new, inside(root, new.path)) for new in files]
    for new, target in targets:
        if target.exists() and new.replaceable and not force:
            raise UsageError(f"{new.path} already exists", "pass --force to replace it")
    written: list[str] = []
    for new, target in targets:
        if target.exists() and not new.replaceable:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(new.text, encoding="utf-8")
        written.append(new.path)
    return written
