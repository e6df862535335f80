"""GitLab's REST API v4 (gitlab.com or self-managed): merge request notes and issues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelship.forge.base import Forge, Query, Upserted, action_for, find_marked, with_marker

if TYPE_CHECKING:
    import requests


class GitLab(Forge):
    name = "gitlab"
    change_request = "merge request"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], token: str, session: requests.Session | None = None
    ) -> GitLab | None:
        project, api = env.get("CI_PROJECT_ID", ""), env.get("CI_API_V4_URL", "")
        if not (project and api):
            return None
        return cls(api, project, token, session)

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": token}

    @property
    def _project(self) -> str:
        return f"{self.api_url}/projects/{self.project}"

    def upsert_comment(self, number: int, mark: str, body: str) -> Upserted:
        text = {"body": with_marker(mark, body)}
        notes = f"{self._project}/merge_requests/{number}/notes"
        found = find_marked(self.pages(notes, {"sort": "asc"}), mark, "body")
        if found:
            data = self.send("PUT", f"{notes}/{found['id']}", text)
        else:
            data = self.send("POST", notes, text)
        return Upserted(action_for(found), int(data["id"]), "")

    def upsert_issue(
        self, mark: str, title: str, body: str, *, labels: Sequence[str] = ()
    ) -> Upserted:
        issues = f"{self._project}/issues"
        found = find_marked(self.pages(issues, {"state": "opened"}), mark, "description")
        payload: dict[str, Any] = {"title": title, "description": with_marker(mark, body)}
        if labels:
            payload["labels"] = ",".join(labels)
        if found:
            data = self.send("PUT", f"{issues}/{found['iid']}", payload)
        else:
            data = self.send("POST", issues, payload)
        return Upserted(action_for(found), int(data["iid"]), str(data.get("web_url", "")))

    def next_page(
        self, response: requests.Response, url: str, query: Query | None
    ) -> tuple[str | None, Query | None]:
        page = response.headers.get("X-Next-Page", "").strip()
        if page.isdigit():
            return url, {**(query or {}), "page": page}
        return None, None
