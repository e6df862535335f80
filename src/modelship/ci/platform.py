"""Which CI runs us, and what it tells about the run.

Detected from the CI's own variables, as iterative/cml does: GitHub Actions sets
GITHUB_ACTIONS=true, GitLab sets GITLAB_CI=true; anything else is local.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

PlatformName = Literal["github", "gitlab", "local"]


def _workspace(declared: str | None, cwd: Path) -> Path:
    """The CI's checkout folder when we run inside it, else the current folder.

    A job normally starts in its checkout; a runner that reports another folder
    (gitlab-ci-local's shell executor does) must not send files elsewhere.
    """
    here = cwd.resolve()
    if declared:
        root = Path(declared).resolve()
        if root == here or root in here.parents:
            return root
    return here


def _looks_like_gitlab_job(env: Mapping[str, str]) -> bool:
    """A GitLab job without GITLAB_CI=true: gitlab-ci-local sets it to false
    on purpose but provides every predefined job variable."""
    return all(env.get(name) for name in ("CI_JOB_ID", "CI_PROJECT_DIR", "CI_SERVER_URL"))


@dataclass(frozen=True)
class Platform:
    name: PlatformName
    env: Mapping[str, str]
    workspace: Path

    @classmethod
    def detect(cls, env: Mapping[str, str], cwd: Path) -> Platform:
        if env.get("GITHUB_ACTIONS") == "true":
            return cls("github", env, _workspace(env.get("GITHUB_WORKSPACE"), cwd))
        if env.get("GITLAB_CI") == "true" or _looks_like_gitlab_job(env):
            return cls("gitlab", env, _workspace(env.get("CI_PROJECT_DIR"), cwd))
        return cls("local", env, _workspace(env.get("MODELSHIP_WORKSPACE"), cwd))

    @property
    def run_url(self) -> str:
        env = self.env
        if self.name == "github":
            server = env.get("GITHUB_SERVER_URL", "https://github.com")
            repo, run_id = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
            if repo and run_id:
                attempt = env.get("GITHUB_RUN_ATTEMPT")
                suffix = f"/attempts/{attempt}" if attempt else ""
                return f"{server}/{repo}/actions/runs/{run_id}{suffix}"
            return ""
        if self.name == "gitlab":
            return env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL", "")
        return ""

    @property
    def repository(self) -> str:
        """`owner/name` (GitHub) or the project path (GitLab); locally the folder name."""
        if self.name == "github":
            return self.env.get("GITHUB_REPOSITORY", "")
        if self.name == "gitlab":
            return self.env.get("CI_PROJECT_PATH", "")
        return self.workspace.resolve().name

    @property
    def repository_name(self) -> str:
        return self.repository.rsplit("/", 1)[-1] or self.workspace.resolve().name

    @property
    def repository_url(self) -> str:
        if self.name == "github":
            server = self.env.get("GITHUB_SERVER_URL", "https://github.com")
            return f"{server}/{self.repository}" if self.repository else ""
        if self.name == "gitlab":
            return self.env.get("CI_PROJECT_URL", "")
        return ""

    def github_event(self) -> dict[str, Any]:
        path = self.env.get("GITHUB_EVENT_PATH")
        if not path:
            return {}
        try:
            loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def github_pull_request(self) -> dict[str, Any]:
        """The event's `pull_request` object; `{}` when absent, null or not an object."""
        found = self.github_event().get("pull_request")
        return found if isinstance(found, dict) else {}

    def pull_request_number(self) -> int | None:
        """The PR (GitHub) or MR (GitLab) this run belongs to, if any."""
        if self.name == "github":
            number = self.github_pull_request().get("number")
            return number if isinstance(number, int) and not isinstance(number, bool) else None
        if self.name == "gitlab":
            iid = self.env.get("CI_MERGE_REQUEST_IID")
            return int(iid) if iid and iid.isdigit() else None
        return None
