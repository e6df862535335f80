"""What an end-to-end run starts from: a clean copy of this checkout, as a
user's runner fetches it at `@v1`, and the user's own repository (files of the
test's choosing, or the example ML project) with modelship's templates vendored."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PROJECT = REPO_ROOT / "workflows-examples" / "project"


def export_checkout(destination: Path) -> Path:
    """Copy the files git tracks plus untracked, unignored ones (the working tree)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        relative = raw.decode()
        source = REPO_ROOT / relative
        if not source.is_file():
            continue  # deleted in the working tree
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return destination


def init_project(path: Path, files: dict[str, str], branch: str = "main") -> Path:
    """A user's repository: the given files, committed on `branch`."""
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(path, "init", "-q", "-b", branch)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def copy_example_project(destination: Path, branch: str = "main") -> Path:
    """The example ML project in a new git repository on `branch`, nothing committed yet."""
    ignored = shutil.ignore_patterns("__pycache__", "mlruns*")
    shutil.copytree(EXAMPLE_PROJECT, destination, ignore=ignored)
    git(destination, "init", "-q", "-b", branch)
    return destination


def gitlab_templates(checkout: Path, *stages: str) -> dict[str, str]:
    """modelship's include templates of `stages` from `checkout`, where a user
    vendors them: `modelship/<stage>.yml` (files for `init_project`)."""
    folder = checkout / "gitlab-templates"
    return {f"modelship/{stage}.yml": (folder / f"{stage}.yml").read_text() for stage in stages}


def git(path: Path, *args: str) -> str:
    """git as the user `ci`; its output without surrounding whitespace."""
    return subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
