"""GitHub's REST API (github.com or GitHub Enterprise): PR comments and issues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from modelship.forge.base import Forge, Query, Upserted, action_for, find_marked, with_marker

if TYPE_CHECKING:
    import requests

DEFAULT_API = "https://api.github.com"


class GitHub(Forge):
    name = "github"
    change_request = "pull request"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], token: str, session: requests.Session | None = None
    ) -> GitHub | None:
        repository = env.get("GITHUB_REPOSITORY", "")
        if not repository:
            return None
        return cls(env.get("GITHUB_API_URL") or DEFAULT_API, repository, token, session)

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    @property
    def _repo(self) -> str:
        return f"{self.api_url}/repos/{self.project}"

    def upsert_comment(self, number: int, mark: str, body: str) -> Upserted:
        text = {"body": with_marker(mark, body)}
        thread = f"{self._repo}/issues/{number}/comments"
        found = find_marked(self.pages(thread, {}), mark, "body")
        if found:
            data = self.send("PATCH", f"{self._repo}/issues/comments/{found['id']}", text)
        else:
            data = self.send("POST", thread, text)
        return Upserted(action_for(found), int(data["id"]), str(data.get("html_url", "")))

    def upsert_issue(
        self, mark: str, title: str, body: str, *, labels: Sequence[str] = ()
    ) -> Upserted:
        issues = f"{self._repo}/issues"
        # The issues list also returns pull requests; those are skipped.
        listed = (i for i in self.pages(issues, {"state": "open"}) if "pull_request" not in i)
        found = find_marked(listed, mark, "body")
        payload: dict[str, Any] = {"title": title, "body": with_marker(mark, body)}
        if labels:
            payload["labels"] = list(labels)
        if found:
            data = self.send("PATCH", f"{issues}/{found['number']}", payload)
        else:
            data = self.send("POST", issues, payload)
        return Upserted(action_for(found), int(data["number"]), str(data.get("html_url", "")))

    def next_page(
        self, response: requests.Response, url: str, query: Query | None
    ) -> tuple[str | None, Query | None]:
        link = response.links.get("next", {}).get("url")
        # Never send the token to a host other than the API's own.
        if link and urlsplit(link).netloc == self.http.host:
            return link, None
        return None, None
