"""PR/MR comment and issue upserts against a local server speaking the GitHub and GitLab APIs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelship import forge
from modelship.ci.platform import Platform
from tests.evaluate.conftest import Case
from tests.fakes.forge_server import FakeForge, forge_server

TOKEN = "ghp_s3cretT0kenValue0123456789"


@pytest.fixture
def fake() -> Iterator[FakeForge]:
    with forge_server(TOKEN) as server:
        yield server


def github(fake: FakeForge) -> forge.Forge:
    return forge.Forge("github", fake.github_api, "acme/churn", TOKEN)


def gitlab(fake: FakeForge) -> forge.Forge:
    return forge.Forge("gitlab", fake.gitlab_api, "42", TOKEN)


@pytest.mark.parametrize("make", [github, gitlab])
def test_comment_is_created_once_then_updated_in_place(fake: FakeForge, make: object) -> None:
    target = make(fake)  # type: ignore[operator]
    mark = forge.marker("evaluate", "churn")
    first = forge.upsert_comment(target, 7, mark, "first report")
    second = forge.upsert_comment(target, 7, mark, "second report")
    assert (first.action, second.action) == ("created", "updated")
    assert first.id == second.id
    thread = "acme/churn#7" if target.kind == "github" else "42!7"
    comments = fake.comments(target.kind, thread)
    assert len(comments) == 1
    assert comments[0]["body"] == f"{mark}\nsecond report"
    # Another model's comment is a different one.
    forge.upsert_comment(target, 7, forge.marker("evaluate", "fraud"), "other model")
    assert len(fake.comments(target.kind, thread)) == 2


def test_marker_found_beyond_the_first_page(fake: FakeForge) -> None:
    target = github(fake)
    for index in range(130):  # the marker's comment lands on page 2 (100 per page)
        forge.upsert_comment(target, 3, forge.marker("noise", str(index)), "noise")
    mark = forge.marker("evaluate", "churn")
    created = forge.upsert_comment(target, 3, mark, "v1")
    updated = forge.upsert_comment(target, 3, mark, "v2")
    assert updated.id == created.id
    assert len(fake.comments("github", "acme/churn#3")) == 131
    pages = [r.query.get("page", ["1"])[0] for r in fake.requests if r.method == "GET"]
    assert "2" in pages


def test_gitlab_pagination_uses_x_next_page(fake: FakeForge) -> None:
    target = gitlab(fake)
    for index in range(105):
        forge.upsert_comment(target, 5, forge.marker("noise", str(index)), "noise")
    mark = forge.marker("evaluate", "churn")
    first = forge.upsert_comment(target, 5, mark, "v1")
    assert forge.upsert_comment(target, 5, mark, "v2").id == first.id
    assert len(fake.comments("gitlab", "42!5")) == 106


@pytest.mark.parametrize("make", [github, gitlab])
def test_issue_is_created_once_then_updated(fake: FakeForge, make: object) -> None:
    target = make(fake)  # type: ignore[operator]
    mark = forge.marker("drift", "churn")
    first = forge.upsert_issue(target, mark, "Drift: churn", "3 features", labels=["drift"])
    second = forge.upsert_issue(target, mark, "Drift: churn", "5 features", labels=["drift"])
    assert (first.action, second.action) == ("created", "updated")
    assert first.id == second.id == 1
    assert first.url
    issues = fake.issues(target.kind, "acme/churn" if target.kind == "github" else "42")
    assert len(issues) == 1
    body = issues[0]["body" if target.kind == "github" else "description"]
    assert body == f"{mark}\n5 features"


def test_closed_issue_is_not_reused(fake: FakeForge) -> None:
    target = github(fake)
    mark = forge.marker("drift", "churn")
    forge.upsert_issue(target, mark, "Drift", "old")
    fake.issues("github", "acme/churn")[0]["state"] = "closed"
    again = forge.upsert_issue(target, mark, "Drift", "new")
    assert again.action == "created"
    assert again.id == 2


def test_token_goes_in_a_header_and_never_in_errors(fake: FakeForge) -> None:
    forge.upsert_comment(github(fake), 1, "<!-- m -->", "x")
    forge.upsert_comment(gitlab(fake), 1, "<!-- m -->", "x")
    github_calls = [r for r in fake.requests if r.path.startswith("/github/")]
    gitlab_calls = [r for r in fake.requests if r.path.startswith("/gitlab/")]
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in github_calls)
    assert all(r.headers.get("PRIVATE-TOKEN") == TOKEN for r in gitlab_calls)
    assert all(TOKEN not in r.path and TOKEN not in json.dumps(r.query) for r in fake.requests)

    wrong = forge.Forge("github", fake.github_api, "acme/churn", "wrong-" + TOKEN)
    with pytest.raises(forge.ForgeError) as caught:
        forge.upsert_comment(wrong, 1, "<!-- m -->", "x")
    assert "HTTP 401" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_forge_is_chosen_from_the_ci_variables(tmp_path: Path) -> None:
    gh = Platform.detect(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "acme/churn",
            "GITHUB_API_URL": "https://ghe/api/v3",
        },
        tmp_path,
    )
    gl = Platform.detect(
        {"GITLAB_CI": "true", "CI_PROJECT_ID": "42", "CI_API_V4_URL": "https://gl/api/v4"}, tmp_path
    )
    local = Platform.detect({}, tmp_path)
    assert forge.forge_for(gh, "t1", "t2") == forge.Forge(
        "github", "https://ghe/api/v3", "acme/churn", "t1"
    )
    assert forge.forge_for(gl, "t1", "t2") == forge.Forge("gitlab", "https://gl/api/v4", "42", "t2")
    assert forge.forge_for(gh, None, "t2") is None  # no token for this forge
    assert forge.forge_for(local, "t1", "t2") is None
    assert TOKEN not in repr(forge.Forge("github", "u", "p", TOKEN))


# --- through the evaluate stage --------------------------------------------------------


def _github_env(case: Case, fake: FakeForge, tmp_path: Path) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    return {
        **case.env,
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(case.workspace),
        "GITHUB_REPOSITORY": "acme/churn",
        "GITHUB_API_URL": fake.github_api,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"),
        "GITHUB_RUN_ID": "99",
        "GITHUB_SERVER_URL": "https://github.com",
        "INPUT_GITHUB_TOKEN": TOKEN,
    }


def _all_text(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


@pytest.mark.services
def test_evaluate_upserts_one_pr_comment_and_never_leaks_the_token(
    case: Case, fake: FakeForge, tmp_path: Path
) -> None:
    case.champion("weak")
    case.env = _github_env(case, fake, tmp_path)
    first = case.evaluate("strong", "--thresholds", "f1 >= champion")
    assert first.code == 0, first.stderr
    second = case.evaluate("weak", "--thresholds", "f1 >= champion")
    assert second.code == 1
    comments = fake.comments("github", "acme/churn#12")
    assert len(comments) == 1  # updated in place, not a second comment
    body = comments[0]["body"]
    assert body.startswith(f"<!-- modelship:evaluate:{case.name} -->")
    assert "**reject**" in body
    assert "| metric | candidate | champion | delta | 95% interval | rule | result |" in body
    posts = [r for r in fake.requests if r.method in ("POST", "PATCH")]
    assert [r.method for r in posts] == ["POST", "PATCH"]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)

    for run in (first, second):
        assert TOKEN not in run.stdout
        # The one line that names it is the runner's own mask command, printed first.
        lines = run.stderr.splitlines()
        assert lines[0] == f"::add-mask::{TOKEN}"
        assert TOKEN not in "\n".join(lines[1:])
    assert TOKEN not in _all_text(case.workspace)
    assert TOKEN not in (tmp_path / "github_output").read_text()
    assert TOKEN not in (tmp_path / "step_summary.md").read_text()
    assert "| metric | candidate |" in (tmp_path / "step_summary.md").read_text()


@pytest.mark.services
def test_evaluate_posts_a_gitlab_merge_request_note(case: Case, fake: FakeForge) -> None:
    case.env = {
        **case.env,
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(case.workspace),
        "CI_PROJECT_ID": "42",
        "CI_API_V4_URL": fake.gitlab_api,
        "CI_MERGE_REQUEST_IID": "4",
        "INPUT_GITLAB_TOKEN": TOKEN,
    }
    for _ in range(2):
        result = case.evaluate("strong", "--thresholds", "accuracy >= 0.9")
        assert result.code == 0, result.stderr
        assert TOKEN not in result.stderr + result.stdout
    notes = fake.comments("gitlab", "42!4")
    assert len(notes) == 1
    assert "no champion" in notes[0]["body"]
    assert all(r.headers["PRIVATE-TOKEN"] == TOKEN for r in fake.requests)
    assert TOKEN not in _all_text(case.workspace)


@pytest.mark.services
def test_comment_auto_does_nothing_outside_a_pull_request(case: Case, fake: FakeForge) -> None:
    case.env = {**case.env, "INPUT_GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.github_api}
    result = case.evaluate("strong", "--bootstrap-samples", "0")
    assert result.code == 0, result.stderr
    assert fake.requests == []
    forced = case.evaluate("strong", "--comment", "true")
    assert forced.code == 2
    assert "not in a pull/merge request" in forced.stderr
