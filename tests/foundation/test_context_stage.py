"""The context stage on GitHub, GitLab and locally, as each CI describes a run."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from modelship.source.versioning import environment_for, oci_tag, parse_branch_environments, semver
from tests.harness.checkout import git, init_project
from tests.harness.cli import run_cli

RULES = parse_branch_environments("main=production,release/*=staging,*=development")


@pytest.mark.parametrize(
    ("branch", "environment"),
    [("main", "production"), ("release/2.1", "staging"), ("feature/x", "development")],
)
def test_branch_strategy_first_match_wins(branch: str, environment: str) -> None:
    assert environment_for(branch, RULES) == environment


def test_bad_rule_names_itself() -> None:
    from modelship.ci.errors import UsageError

    with pytest.raises(UsageError, match="bad rule 'main'"):
        parse_branch_environments("main")


def test_semver_rules() -> None:
    assert semver("v1.4.0", 0, "abc1234") == "1.4.0"
    assert semver("v1.4.0", 3, "abc1234") == "1.4.1-dev.3+gabc1234"
    assert semver(None, 7, "abc1234") == "0.0.0-dev.7+gabc1234"


def test_oci_tag_is_valid_and_bounded() -> None:
    assert oci_tag("1.4.1-dev.3+gabc1234") == "1.4.1-dev.3-gabc1234"
    long = oci_tag("1.0.0-" + "x" * 300)
    assert len(long) == 128
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", long)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    project = init_project(tmp_path / "repo", {"a.txt": "1"})
    git(project, "tag", "v1.2.0")
    for n in range(2):
        (project / "a.txt").write_text(str(n + 2))
        git(project, "commit", "-qam", f"change {n}")
    return project


def test_local_version_counts_commits_past_the_tag(repo: Path) -> None:
    run = run_cli(["context", "--json"], repo)
    assert run.code == 0, run.stderr
    sha = git(repo, "rev-parse", "HEAD").strip()
    assert run.outputs["version"] == f"1.2.1-dev.2+g{sha[:7]}"
    assert run.outputs["image-tag"] == f"1.2.1-dev.2-g{sha[:7]}"
    assert run.outputs["environment"] == "production"
    assert run.outputs["should-deploy"] == "true"


def test_github_tag_push_is_a_release(repo: Path) -> None:
    git(repo, "tag", "v1.3.0")
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": "refs/tags/v1.3.0",
        "GITHUB_REF_NAME": "v1.3.0",
        "GITHUB_REF_TYPE": "tag",
        "GITHUB_SHA": git(repo, "rev-parse", "HEAD").strip(),
        "GITHUB_WORKSPACE": str(repo),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/churn",
        "GITHUB_RUN_ID": "42",
        "GITHUB_OUTPUT": str(repo.parent / "out"),
    }
    run = run_cli(
        ["context", "--json", "--branch-environments", "v*=production,*=development"], repo, env
    )
    assert run.code == 0, run.stderr
    assert run.outputs["version"] == "1.3.0"
    assert run.outputs["is-release"] == "true"
    assert run.outputs["environment"] == "production"
    assert run.outputs["run-url"] == "https://github.com/acme/churn/actions/runs/42"


def test_github_pull_request_uses_head_branch_and_never_deploys(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"pull_request": {"number": 7, "head": {"sha": head, "ref": "main"}}})
    )
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_HEAD_REF": "main",
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_REF_NAME": "7/merge",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_WORKSPACE": str(repo),
    }
    run = run_cli(["context", "--json"], repo, env)
    assert run.code == 0, run.stderr
    assert run.outputs["sha"] == head
    assert run.outputs["branch"] == "main"
    assert run.outputs["environment"] == "production"
    assert run.outputs["should-deploy"] == "false"


def test_gitlab_merge_request_and_branch_pipelines(repo: Path) -> None:
    base = {
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(repo),
        "CI_COMMIT_SHA": "f" * 40,
        "CI_JOB_URL": "https://gitlab.example.com/acme/churn/-/jobs/9",
    }
    mr = {
        **base,
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "3",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "release/1.3",
    }
    run = run_cli(["context", "--json"], repo, mr)
    assert (run.outputs["environment"], run.outputs["should-deploy"]) == ("staging", "false")
    push = {**base, "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "release/1.3"}
    run = run_cli(["context", "--json"], repo, push)
    assert (run.outputs["environment"], run.outputs["should-deploy"]) == ("staging", "true")
    assert run.outputs["run-url"].endswith("/jobs/9")
    dotenv = (repo / "modelship.env").read_text()
    assert "MODELSHIP_CONTEXT_ENVIRONMENT=staging" in dotenv


def test_shallow_clone_without_tags_warns(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--no-tags", f"file://{repo}", str(clone)],
        check=True,
    )
    run = run_cli(["context", "--json"], clone)
    assert run.code == 0
    assert "shallow clone without tags" in run.stderr
    assert run.outputs["version"].startswith("0.0.0-dev.1+g")


def test_not_a_git_repository_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli(["context"], tmp_path)
    assert run.code == 2
    assert "is not a git repository" in run.stderr
