"""Paths that users give stay inside the workspace."""

from __future__ import annotations

from pathlib import Path

from modelship.ci.errors import UsageError


def confine(value: str | Path, workspace: Path, what: str = "path") -> Path:
    """Resolve `value` against the workspace and refuse anything outside it.

    Symlinks are resolved first, so a link that points out is refused too.
    """
    root = workspace.resolve()
    candidate = Path(value)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if resolved != root and root not in resolved.parents:
        raise UsageError(
            f"{what} {str(value)!r} points outside the workspace {root}",
            "use a path inside the repository checkout",
        )
    return resolved
