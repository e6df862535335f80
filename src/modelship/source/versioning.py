"""Versions, OCI tags and the branch-to-environment strategy: pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from modelship.ci.errors import UsageError
from modelship.source.gitinfo import RELEASE_TAG

OCI_TAG_MAX = 128
_OCI_BAD = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Rule:
    pattern: str
    environment: str


def parse_branch_environments(text: str) -> list[Rule]:
    """`main=production,release/*=staging,*=development` (commas or lines)."""
    rules: list[Rule] = []
    for entry in re.split(r"[,\n]", text):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        pattern, sep, environment = entry.partition("=")
        pattern, environment = pattern.strip(), environment.strip()
        if not sep or not pattern or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", environment):
            raise UsageError(
                f"input 'branch-environments': bad rule {entry[:60]!r}",
                "write pattern=environment, e.g. main=production,release/*=staging,*=development",
            )
        rules.append(Rule(pattern, environment))
    if not rules:
        raise UsageError("input 'branch-environments' has no rules")
    return rules


def environment_for(ref_name: str, rules: list[Rule]) -> str:
    """First matching glob wins; no match means `development`."""
    for rule in rules:
        if fnmatchcase(ref_name, rule.pattern):
            return rule.environment
    return "development"


def semver(tag: str | None, distance: int, short_sha: str) -> str:
    """SemVer 2.0 from the nearest release tag.

    On `vX.Y.Z` itself: `X.Y.Z`. N commits past it: `X.Y.(Z+1)-dev.N+g<sha>`, a
    pre-release of the next patch, so it sorts after X.Y.Z and before X.Y.Z+1.
    """
    if tag is None:
        return f"0.0.0-dev.{distance}+g{short_sha}"
    match = RELEASE_TAG.match(tag)
    if not match:
        raise ValueError(f"not a release tag: {tag}")
    major, minor, patch = (int(x) for x in match.groups())
    if distance == 0:
        return f"{major}.{minor}.{patch}"
    return f"{major}.{minor}.{patch + 1}-dev.{distance}+g{short_sha}"


def oci_tag(version: str) -> str:
    """A valid OCI tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}."""
    tag = _OCI_BAD.sub("-", version.replace("+", "-"))
    tag = tag.lstrip(".-") or "latest"
    return tag[:OCI_TAG_MAX]
