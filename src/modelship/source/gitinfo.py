"""What git knows about the checkout: commit, branch, nearest release tag."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from modelship.ci.errors import ExternalError, UsageError

RELEASE_TAG = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def git(cwd: Path, *args: str, check: bool = True) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise ExternalError("git is not installed", "install git on the runner") from None
    if check and done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
        if "not a git repository" in done.stderr:
            raise UsageError(
                f"{cwd} is not a git repository",
                "run modelship inside the checkout (actions/checkout on GitHub)",
            )
        raise ExternalError(f"git {' '.join(args)} failed: {message[0]}")
    return done.stdout.strip()


@dataclass(frozen=True)
class Describe:
    """The nearest `vX.Y.Z` tag reachable from HEAD and the distance to it."""

    tag: str | None
    distance: int
    is_shallow: bool


def describe(cwd: Path) -> Describe:
    shallow = git(cwd, "rev-parse", "--is-shallow-repository", check=False) == "true"
    tags = git(cwd, "tag", "--merged", "HEAD", "--list", "v*", check=False).split()
    release = [t for t in tags if RELEASE_TAG.match(t)]
    if not release:
        count = int(git(cwd, "rev-list", "--count", "HEAD") or 0)
        return Describe(None, count, shallow)
    # The nearest release tag: fewest commits between it and HEAD; the higher
    # version wins a tie (two tags on one commit).
    best: tuple[int, tuple[int, ...], str] | None = None
    for tag in release:
        distance = int(git(cwd, "rev-list", "--count", f"{tag}..HEAD") or 0)
        version = tuple(int(x) for x in RELEASE_TAG.match(tag).groups())  # type: ignore[union-attr]
        key = (distance, tuple(-v for v in version), tag)
        if best is None or key < best:
            best = key
    assert best is not None
    return Describe(best[2], best[0], shallow)


def head_sha(cwd: Path) -> str:
    return git(cwd, "rev-parse", "HEAD")


def current_branch(cwd: Path) -> str:
    name = git(cwd, "rev-parse", "--abbrev-ref", "HEAD", check=False)
    return "" if name in ("HEAD", "") else name


def tags_at_head(cwd: Path) -> list[str]:
    return git(cwd, "tag", "--points-at", "HEAD", check=False).split()
