"""The ref a run builds, read from the CI's own variables, or from git locally."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelship.ci.platform import Platform
from modelship.source import gitinfo


@dataclass(frozen=True)
class Ref:
    sha: str
    branch: str
    tag: str
    event: str
    is_pull_request: bool


def read_ref(platform: Platform, cwd: Path) -> Ref:
    env = platform.env
    if platform.name == "github":
        event = env.get("GITHUB_EVENT_NAME", "push")
        ref_type = env.get("GITHUB_REF_TYPE", "")
        ref = env.get("GITHUB_REF", "")
        is_pr = event in ("pull_request", "pull_request_target")
        tag = ""
        if ref_type == "tag" or ref.startswith("refs/tags/"):
            tag = env.get("GITHUB_REF_NAME") or ref.removeprefix("refs/tags/")
        if is_pr:
            # GITHUB_SHA is the merge commit; the version describes the head.
            found = platform.github_pull_request().get("head")
            head = found if isinstance(found, dict) else {}
            sha = _text(head.get("sha")) or env.get("GITHUB_SHA") or gitinfo.head_sha(cwd)
            branch = env.get("GITHUB_HEAD_REF") or _text(head.get("ref"))
        else:
            sha = env.get("GITHUB_SHA") or gitinfo.head_sha(cwd)
            branch = "" if tag else env.get("GITHUB_REF_NAME") or ref.removeprefix("refs/heads/")
        return Ref(sha, branch, tag, event, is_pr)
    if platform.name == "gitlab":
        source = env.get("CI_PIPELINE_SOURCE", "push")
        is_mr = source == "merge_request_event" or bool(env.get("CI_MERGE_REQUEST_IID"))
        tag = env.get("CI_COMMIT_TAG", "")
        if is_mr:
            branch = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "")
            sha = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or env.get("CI_COMMIT_SHA", "")
        else:
            branch = env.get("CI_COMMIT_BRANCH", "")
            sha = env.get("CI_COMMIT_SHA", "")
        return Ref(sha or gitinfo.head_sha(cwd), branch, tag, source, is_mr)
    tags = [t for t in gitinfo.tags_at_head(cwd) if gitinfo.RELEASE_TAG.match(t)]
    branch = gitinfo.current_branch(cwd)
    return Ref(
        gitinfo.head_sha(cwd), branch, "" if branch else (tags[0] if tags else ""), "local", False
    )


def _text(value: object) -> str:
    """A string field of the event file; anything else (null, a number) counts as absent."""
    return value if isinstance(value, str) else ""
