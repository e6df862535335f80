"""PR/MR comment and issue upserts against a local server speaking the GitHub and GitLab APIs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelship import forge
from modelship.ci.platform import Platform
from modelship.forge import http as forge_http
from modelship.forge.http import new_session
from tests.evaluate.conftest import Case
from tests.fakes.forge_server import FakeForge, forge_server

Maker = Callable[[FakeForge], forge.Forge]

TOKEN = "ghp_s3cretT0kenValue0123456789"


@pytest.fixture
def fake() -> Iterator[FakeForge]:
    with forge_server(TOKEN) as server:
        yield server


def github(fake: FakeForge, token: str = TOKEN) -> forge.Forge:
    return forge.GitHub(fake.github_api, "acme/churn", token)


def gitlab(fake: FakeForge, token: str = TOKEN) -> forge.Forge:
    return forge.GitLab(fake.gitlab_api, "42", token)


def _thread(target: forge.Forge, number: int) -> str:
    return f"acme/churn#{number}" if target.name == "github" else f"42!{number}"


@pytest.mark.parametrize("make", [github, gitlab])
def test_comment_is_created_once_then_updated_in_place(fake: FakeForge, make: Maker) -> None:
    target = make(fake)
    mark = forge.marker("evaluate", "churn")
    first = target.upsert_comment(7, mark, "first report")
    second = target.upsert_comment(7, mark, "second report")
    assert (first.action, second.action) == ("created", "updated")
    assert first.id == second.id
    comments = fake.comments(target.name, _thread(target, 7))
    assert len(comments) == 1
    assert comments[0]["body"] == f"{mark}\nsecond report"
    # Another model's comment is a different one.
    target.upsert_comment(7, forge.marker("evaluate", "fraud"), "other model")
    assert len(fake.comments(target.name, _thread(target, 7))) == 2


def test_marker_found_beyond_the_first_page(fake: FakeForge) -> None:
    target = github(fake)
    for index in range(130):  # the marker's comment lands on page 2 (100 per page)
        target.upsert_comment(3, forge.marker("noise", str(index)), "noise")
    mark = forge.marker("evaluate", "churn")
    created = target.upsert_comment(3, mark, "v1")
    updated = target.upsert_comment(3, mark, "v2")
    assert updated.id == created.id
    assert len(fake.comments("github", "acme/churn#3")) == 131
    pages = [r.query.get("page", ["1"])[0] for r in fake.requests if r.method == "GET"]
    assert "2" in pages


def test_gitlab_pagination_uses_x_next_page(fake: FakeForge) -> None:
    target = gitlab(fake)
    for index in range(105):
        target.upsert_comment(5, forge.marker("noise", str(index)), "noise")
    mark = forge.marker("evaluate", "churn")
    first = target.upsert_comment(5, mark, "v1")
    assert target.upsert_comment(5, mark, "v2").id == first.id
    assert len(fake.comments("gitlab", "42!5")) == 106


@pytest.mark.parametrize("make", [github, gitlab])
def test_issue_is_created_once_then_updated(fake: FakeForge, make: Maker) -> None:
    target = make(fake)
    mark = forge.marker("drift", "churn")
    first = target.upsert_issue(mark, "Drift: churn", "3 features", labels=["drift"])
    second = target.upsert_issue(mark, "Drift: churn", "5 features", labels=["drift"])
    assert (first.action, second.action) == ("created", "updated")
    assert first.id == second.id == 1
    assert first.url
    issues = fake.issues(target.name, "acme/churn" if target.name == "github" else "42")
    assert len(issues) == 1
    body = issues[0]["body" if target.name == "github" else "description"]
    assert body == f"{mark}\n5 features"


def test_closed_issue_is_not_reused(fake: FakeForge) -> None:
    target = github(fake)
    mark = forge.marker("drift", "churn")
    target.upsert_issue(mark, "Drift", "old")
    fake.issues("github", "acme/churn")[0]["state"] = "closed"
    again = target.upsert_issue(mark, "Drift", "new")
    assert again.action == "created"
    assert again.id == 2


def test_token_goes_in_a_header_and_never_in_errors(fake: FakeForge) -> None:
    github(fake).upsert_comment(1, "<!-- m -->", "x")
    gitlab(fake).upsert_comment(1, "<!-- m -->", "x")
    github_calls = [r for r in fake.requests if r.path.startswith("/github/")]
    gitlab_calls = [r for r in fake.requests if r.path.startswith("/gitlab/")]
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in github_calls)
    assert all(r.headers.get("PRIVATE-TOKEN") == TOKEN for r in gitlab_calls)
    assert all(TOKEN not in r.path and TOKEN not in json.dumps(r.query) for r in fake.requests)

    with pytest.raises(forge.ForgeError) as caught:
        github(fake, "wrong-" + TOKEN).upsert_comment(1, "<!-- m -->", "x")
    assert "HTTP 401" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(github(fake)) + repr(gitlab(fake))


@pytest.mark.parametrize("make", [github, gitlab])
def test_a_rate_limited_request_is_retried_after_the_pause_the_forge_asks_for(
    fake: FakeForge, make: Maker
) -> None:
    target = make(fake)
    fake.fail_next(429, {"Retry-After": "1"})
    started = time.monotonic()
    done = target.upsert_comment(9, forge.marker("evaluate", "churn"), "report")
    assert done.action == "created"
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured
    listing = [r for r in fake.requests if r.method == "GET"]
    assert len(listing) == 2  # the 429, then the same request again
    assert listing[0].path == listing[1].path
    assert len(fake.comments(target.name, _thread(target, 9))) == 1


def test_a_write_answered_with_a_server_error_is_retried(fake: FakeForge) -> None:
    target = forge.GitLab(fake.gitlab_api, "42", TOKEN, session=new_session(backoff=0.01))
    fake.fail_next(502, method="POST")
    done = target.upsert_issue(forge.marker("drift", "churn"), "Drift", "body")
    assert (done.action, done.id) == ("created", 1)
    assert [r.method for r in fake.requests] == ["GET", "POST", "POST"]
    assert len(fake.issues("gitlab", "42")) == 1


def test_a_long_retry_after_never_stalls_the_job(
    fake: FakeForge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forge_http, "MAX_RETRY_AFTER", 0.2)
    fake.fail_next(429, {"Retry-After": "3600"})
    started = time.monotonic()
    github(fake).upsert_comment(2, forge.marker("evaluate", "churn"), "report")
    assert time.monotonic() - started < 30


def test_a_forge_that_keeps_failing_gives_one_line_without_the_token(fake: FakeForge) -> None:
    target = forge.GitHub(fake.github_api, "acme/churn", TOKEN, session=new_session(backoff=0.01))
    fake.fail_next(503, times=forge_http.RETRIES + 1)
    with pytest.raises(forge.ForgeError) as caught:
        target.upsert_issue(forge.marker("drift", "churn"), "Drift", "body")
    message = str(caught.value)
    assert "HTTP 503" in message
    assert "retries" in message
    assert "\n" not in message
    assert TOKEN not in message
    assert len(fake.requests) == forge_http.RETRIES + 1


def test_a_redirect_is_refused_so_the_token_never_travels_on(fake: FakeForge) -> None:
    elsewhere = "http://127.0.0.1:9/steal"
    fake.fail_next(302, {"Location": elsewhere})
    with pytest.raises(forge.ForgeError) as caught:
        gitlab(fake).upsert_comment(1, "<!-- m -->", "x")
    assert "redirected" in str(caught.value)
    assert len(fake.requests) == 1


def test_forge_is_chosen_from_the_ci_variables(tmp_path: Path) -> None:
    gh = Platform.detect(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "acme/churn",
            "GITHUB_API_URL": "https://ghe/api/v3/",
        },
        tmp_path,
    )
    gl = Platform.detect(
        {"GITLAB_CI": "true", "CI_PROJECT_ID": "42", "CI_API_V4_URL": "https://gl/api/v4"}, tmp_path
    )
    local = Platform.detect({}, tmp_path)
    on_github = forge.from_context(gh, github_token="t1", gitlab_token="t2")
    assert isinstance(on_github, forge.GitHub)
    assert (on_github.api_url, on_github.project) == ("https://ghe/api/v3", "acme/churn")
    assert on_github.change_request == "pull request"
    on_gitlab = forge.from_context(gl, github_token="t1", gitlab_token="t2")
    assert isinstance(on_gitlab, forge.GitLab)
    assert (on_gitlab.api_url, on_gitlab.project) == ("https://gl/api/v4", "42")
    assert on_gitlab.change_request == "merge request"
    assert on_gitlab.http.session.headers["PRIVATE-TOKEN"] == "t2"
    assert forge.from_context(gh, github_token=None, gitlab_token="t2") is None  # no token
    assert forge.from_context(local, github_token="t1", gitlab_token="t2") is None


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


@pytest.mark.services
def test_a_rejected_token_is_exit_3_with_one_error_line_that_hides_it(
    case: Case, fake: FakeForge, tmp_path: Path
) -> None:
    wrong = "wrong-" + TOKEN
    case.env = {**_github_env(case, fake, tmp_path), "INPUT_GITHUB_TOKEN": wrong}
    result = case.evaluate("strong", "--comment", "true", "--bootstrap-samples", "0")
    assert result.code == 3
    lines = result.stderr.splitlines()
    assert lines[0] == f"::add-mask::{wrong}"
    shown = "\n".join(lines[1:]) + result.stdout
    assert TOKEN not in shown
    errors = [line for line in lines if "HTTP 401" in line]
    assert len(errors) == 1
    assert errors[0].startswith("::error")
    assert "could not post the evaluation comment" in errors[0]
    assert "Traceback" not in result.stderr
    assert fake.comments("github", "acme/churn#12") == []
