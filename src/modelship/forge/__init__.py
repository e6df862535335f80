"""GitHub and GitLab behind one interface: PR/MR comments and issues, upserted by marker.

The driver is chosen from the CI's own variables (as iterative/cml does):
GitHub Actions -> `$GITHUB_API_URL` and `$GITHUB_REPOSITORY`; GitLab CI ->
`$CI_API_V4_URL` and `$CI_PROJECT_ID`. Callers hold a `Forge` and never ask
which one it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelship.forge.base import Forge, Upserted, marker, with_marker
from modelship.forge.github import GitHub
from modelship.forge.gitlab import GitLab
from modelship.forge.http import ForgeError

if TYPE_CHECKING:
    import requests

    from modelship.ci.platform import Platform

__all__ = [
    "DRIVERS",
    "Forge",
    "ForgeError",
    "GitHub",
    "GitLab",
    "Upserted",
    "from_context",
    "marker",
    "with_marker",
]

DRIVERS: dict[str, type[Forge]] = {driver.name: driver for driver in (GitHub, GitLab)}


def from_context(
    platform: Platform,
    *,
    github_token: str | None,
    gitlab_token: str | None,
    session: requests.Session | None = None,
) -> Forge | None:
    """The forge this CI run belongs to, or None (a local run, or no token for its forge)."""
    driver = DRIVERS.get(platform.name)
    token = {GitHub.name: github_token, GitLab.name: gitlab_token}.get(platform.name)
    if driver is None or not token:
        return None
    return driver.from_env(platform.env, token, session)
