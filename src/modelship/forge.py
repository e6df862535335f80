"""GitHub and GitLab REST: one comment per pull/merge request, one issue per topic.

The forge is chosen from the CI's own variables (as iterative/cml does):
GitHub Actions -> `$GITHUB_API_URL` and `$GITHUB_REPOSITORY`; GitLab CI ->
`$CI_API_V4_URL` and `$CI_PROJECT_ID`. A comment or issue is found again by a
hidden HTML marker in its body, so a re-run updates it in place instead of
adding another one.

The token travels only in a request header (`Authorization: Bearer` for
GitHub, `PRIVATE-TOKEN` for GitLab). It is never part of a URL, an error
message or a log line, and pagination links are followed only on the API host.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import requests

    from modelship.ci.platform import Platform

ForgeKind = Literal["github", "gitlab"]
Action = Literal["created", "updated"]

# GitHub refuses comment and issue bodies over 65536 characters.
MAX_BODY = 65_000
PER_PAGE = 100
MAX_PAGES = 50
TRUNCATED = "\n\n_(truncated: the full report is in the job's artifacts)_\n"


class ForgeError(Exception):
    """A forge request failed. The message never holds the token."""


@dataclass(frozen=True)
class Forge:
    kind: ForgeKind
    api_url: str  # e.g. https://api.github.com or https://gitlab.example.com/api/v4
    project: str  # owner/name (GitHub) or the numeric project id (GitLab)
    token: str = field(repr=False)
    timeout: float = 30.0

    def headers(self) -> dict[str, str]:
        if self.kind == "github":
            return {
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "modelship",
            }
        return {"PRIVATE-TOKEN": self.token, "User-Agent": "modelship"}


@dataclass(frozen=True)
class Upserted:
    action: Action
    id: int  # comment/note id, or issue number/iid
    url: str


def forge_for(
    platform: Platform, github_token: str | None, gitlab_token: str | None
) -> Forge | None:
    """The forge this CI run belongs to, or None (local run, or no token for it)."""
    env = platform.env
    if platform.name == "github" and github_token:
        repo = env.get("GITHUB_REPOSITORY", "")
        api = env.get("GITHUB_API_URL") or "https://api.github.com"
        return Forge("github", api.rstrip("/"), repo, github_token) if repo else None
    if platform.name == "gitlab" and gitlab_token:
        project = env.get("CI_PROJECT_ID", "")
        api = env.get("CI_API_V4_URL", "")
        if project and api:
            return Forge("gitlab", api.rstrip("/"), project, gitlab_token)
    return None


_MARKER_KEY = re.compile(r"[^A-Za-z0-9_.:/@-]+")


def marker(kind: str, key: str) -> str:
    """A hidden HTML comment that identifies a comment or issue, e.g. one per model."""
    clean = _MARKER_KEY.sub("-", f"{kind}:{key}")[:200]
    return f"<!-- modelship:{clean} -->"


def with_marker(mark: str, body: str) -> str:
    text = f"{mark}\n{body}"
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - len(TRUNCATED)] + TRUNCATED
    return text


class _Client:
    def __init__(self, forge: Forge, session: requests.Session | None = None) -> None:
        import requests

        self.forge = forge
        self.session = session or requests.Session()
        self.session.headers.update(forge.headers())
        self._host = urlsplit(forge.api_url).netloc

    def _redact(self, text: str) -> str:
        return text.replace(self.forge.token, "***") if self.forge.token else text

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        import requests

        path = urlsplit(url).path
        try:
            response = self.session.request(method, url, timeout=self.forge.timeout, **kwargs)
        except requests.RequestException as err:
            raise ForgeError(
                self._redact(f"{self.forge.kind} API {method} {path} failed: {type(err).__name__}")
            ) from None
        if response.status_code >= 400:
            detail = ""
            try:
                payload = response.json()
                detail = str(payload.get("message") or payload.get("error") or "")
            except ValueError:
                detail = response.text[:200]
            hint = ""
            if response.status_code in (401, 403, 404):
                hint = " (check the token's permissions: pull requests/issues write, or api scope)"
            raise ForgeError(
                self._redact(
                    f"{self.forge.kind} API {method} {path} returned HTTP "
                    f"{response.status_code}: {detail[:200]}{hint}"
                )
            )
        return response

    def pages(self, url: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, GitHub `Link` or GitLab `X-Next-Page` style."""
        query: dict[str, str] | None = {**params, "per_page": str(PER_PAGE)}
        next_url: str | None = url
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            response = self.request("GET", next_url, params=query)
            items = response.json()
            if not isinstance(items, list):
                raise ForgeError(f"{self.forge.kind} API GET {urlsplit(url).path}: not a list")
            yield from (item for item in items if isinstance(item, dict))
            next_url, query = self._next(response, url, query)

    def _next(
        self, response: requests.Response, url: str, query: dict[str, str] | None
    ) -> tuple[str | None, dict[str, str] | None]:
        if self.forge.kind == "github":
            link = response.links.get("next", {}).get("url")
            # Never send the token to a host other than the API's own.
            if link and urlsplit(link).netloc == self._host:
                return link, None
            return None, None
        page = response.headers.get("X-Next-Page", "").strip()
        if page.isdigit():
            return url, {**(query or {}), "page": page}
        return None, None


def _find(items: Iterator[dict[str, Any]], mark: str, key: str) -> dict[str, Any] | None:
    for item in items:
        if mark in str(item.get(key) or ""):
            return item
    return None


def upsert_comment(
    forge: Forge, number: int, mark: str, body: str, session: requests.Session | None = None
) -> Upserted:
    """Create or update the pull request (GitHub) / merge request (GitLab) comment with `mark`."""
    client = _Client(forge, session)
    text = with_marker(mark, body)
    if forge.kind == "github":
        base = f"{forge.api_url}/repos/{forge.project}"
        found = _find(client.pages(f"{base}/issues/{number}/comments", {}), mark, "body")
        if found:
            response = client.request(
                "PATCH", f"{base}/issues/comments/{found['id']}", json={"body": text}
            )
            action: Action = "updated"
        else:
            response = client.request(
                "POST", f"{base}/issues/{number}/comments", json={"body": text}
            )
            action = "created"
        data = response.json()
        return Upserted(action, int(data["id"]), str(data.get("html_url", "")))
    base = f"{forge.api_url}/projects/{forge.project}/merge_requests/{number}/notes"
    found = _find(client.pages(base, {"sort": "asc"}), mark, "body")
    if found:
        response = client.request("PUT", f"{base}/{found['id']}", json={"body": text})
        action = "updated"
    else:
        response = client.request("POST", base, json={"body": text})
        action = "created"
    data = response.json()
    return Upserted(action, int(data["id"]), "")


def upsert_issue(
    forge: Forge,
    mark: str,
    title: str,
    body: str,
    *,
    labels: Sequence[str] = (),
    session: requests.Session | None = None,
) -> Upserted:
    """Create or update the open issue whose body holds `mark`.

    Only open issues are searched: once people close an issue, the next
    occurrence opens a fresh one. Labels are set on creation and update.
    Returns the issue number (GitHub) or iid (GitLab) and its web URL.
    """
    client = _Client(forge, session)
    text = with_marker(mark, body)
    if forge.kind == "github":
        base = f"{forge.api_url}/repos/{forge.project}/issues"
        # The issues list also returns pull requests; those are skipped.
        issues = (i for i in client.pages(base, {"state": "open"}) if "pull_request" not in i)
        found = _find(issues, mark, "body")
        payload: dict[str, Any] = {"title": title, "body": text}
        if labels:
            payload["labels"] = list(labels)
        if found:
            response = client.request("PATCH", f"{base}/{found['number']}", json=payload)
            action: Action = "updated"
        else:
            response = client.request("POST", base, json=payload)
            action = "created"
        data = response.json()
        return Upserted(action, int(data["number"]), str(data.get("html_url", "")))
    base = f"{forge.api_url}/projects/{forge.project}/issues"
    found = _find(client.pages(base, {"state": "opened"}), mark, "description")
    payload = {"title": title, "description": text}
    if labels:
        payload["labels"] = ",".join(labels)
    if found:
        response = client.request("PUT", f"{base}/{found['iid']}", json=payload)
        action = "updated"
    else:
        response = client.request("POST", base, json=payload)
        action = "created"
    data = response.json()
    return Upserted(action, int(data["iid"]), str(data.get("web_url", "")))
