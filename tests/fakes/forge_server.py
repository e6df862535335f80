"""A local HTTP server speaking the GitHub and GitLab REST endpoints modelship uses.

GitHub (under `/github`):
  GET/POST  /repos/{owner}/{repo}/issues/{n}/comments
  PATCH     /repos/{owner}/{repo}/issues/comments/{id}
  GET/POST  /repos/{owner}/{repo}/issues
  PATCH     /repos/{owner}/{repo}/issues/{n}
GitLab (under `/gitlab/api/v4`):
  GET/POST  /projects/{id}/merge_requests/{iid}/notes
  PUT       /projects/{id}/merge_requests/{iid}/notes/{note_id}
  GET/POST  /projects/{id}/issues
  PUT       /projects/{id}/issues/{iid}

Lists paginate (`per_page`, `page`) with a GitHub `Link` header or GitLab
`X-Next-Page`. Every request is recorded with its headers, so tests can check
that the token was sent, and where. Requests without the expected token get
401, as the real APIs answer. `FakeForge.fail_next` queues answers such as a
429 with `Retry-After`, served before any routing, to test retries.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.harness.http import JsonHandler, LoopbackServer, Recorded


@dataclass
class ForgeState:
    token: str
    # (forge, thread key) -> comments; thread key is "owner/repo#n" or "project!iid"
    comments: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    issues: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    next_id: int = 1000
    # canned (method or None for any, status, headers) answers served in order before routing
    failures: list[tuple[str | None, int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


@dataclass
class FakeForge:
    url: str
    state: ForgeState
    server: LoopbackServer

    @property
    def github_api(self) -> str:
        return f"{self.url}/github"

    @property
    def gitlab_api(self) -> str:
        return f"{self.url}/gitlab/api/v4"

    def comments(self, forge: str, thread: str) -> list[dict[str, Any]]:
        return self.state.comments.get((forge, thread), [])

    def issues(self, forge: str, project: str) -> list[dict[str, Any]]:
        return self.state.issues.get((forge, project), [])

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def fail_next(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        *,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` requests (of `method`, if given) with `status` instead."""
        with self.state.lock:
            self.state.failures.extend([(method, status, dict(headers or {}))] * times)


_GH_COMMENTS = re.compile(r"^/github/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_GH_COMMENT = re.compile(r"^/github/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
_GH_ISSUES = re.compile(r"^/github/repos/([^/]+/[^/]+)/issues$")
_GH_ISSUE = re.compile(r"^/github/repos/([^/]+/[^/]+)/issues/(\d+)$")
_GL_NOTES = re.compile(r"^/gitlab/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes$")
_GL_NOTE = re.compile(r"^/gitlab/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes/(\d+)$")
_GL_ISSUES = re.compile(r"^/gitlab/api/v4/projects/([^/]+)/issues$")
_GL_ISSUE = re.compile(r"^/gitlab/api/v4/projects/([^/]+)/issues/(\d+)$")


def _handler(state: ForgeState) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self.send_json(status, payload, headers)

        def _page(
            self, items: list[dict[str, Any]], query: dict[str, list[str]], forge: str, path: str
        ) -> None:
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            chunk = items[(page - 1) * per_page : page * per_page]
            headers: dict[str, str] = {}
            more = page * per_page < len(items)
            if forge == "github" and more:
                rest = "&".join(f"{k}={v[0]}" for k, v in query.items() if k != "page")
                url = f"{self.server.url}{path}?{rest}&page={page + 1}"
                headers["Link"] = f'<{url}>; rel="next"'
            if forge == "gitlab":
                headers["X-Next-Page"] = str(page + 1) if more else ""
            self._reply(200, chunk, headers)

        def _handle(self, method: str) -> None:
            seen = self.record(self.read_json())
            path, query, body = seen.path, seen.query, seen.body
            with state.lock:
                canned = next((f for f in state.failures if f[0] in (None, method)), None)
                if canned is not None:
                    state.failures.remove(canned)
                    self._reply(canned[1], {"message": f"canned HTTP {canned[1]}"}, canned[2])
                    return
                self._route(method, path, query, body)

        def _authorized(self, forge: str) -> bool:
            if forge == "github":
                return self.headers.get("Authorization") == f"Bearer {state.token}"
            return self.headers.get("PRIVATE-TOKEN") == state.token

        def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
            forge = "github" if path.startswith("/github/") else "gitlab"
            if not self._authorized(forge):
                self._reply(401, {"message": "Bad credentials"})
                return
            if match := _GH_COMMENTS.match(path):
                key = ("github", f"{match[1]}#{match[2]}")
                items = state.comments.setdefault(key, [])
                if method == "GET":
                    self._page(items, query, "github", path)
                    return
                if method == "POST":
                    cid = state.new_id()
                    item = {
                        "id": cid,
                        "body": body["body"],
                        "html_url": f"{self.server.url}/c/{cid}",
                    }
                    items.append(item)
                    self._reply(201, item)
                    return
            if (match := _GH_COMMENT.match(path)) and method == "PATCH":
                for (forge_name, thread), items in state.comments.items():
                    for item in items:
                        if (
                            forge_name == "github"
                            and thread.startswith(match[1] + "#")
                            and item["id"] == int(match[2])
                        ):
                            item["body"] = body["body"]
                            self._reply(200, item)
                            return
                self._reply(404, {"message": "Not Found"})
                return
            if match := _GH_ISSUES.match(path):
                items = state.issues.setdefault(("github", match[1]), [])
                if method == "GET":
                    wanted = query.get("state", ["open"])[0]
                    shown = [i for i in items if wanted == "all" or i["state"] == wanted]
                    self._page(shown, query, "github", path)
                    return
                if method == "POST":
                    number = len(items) + 1
                    item = {
                        "number": number,
                        "title": body["title"],
                        "body": body.get("body", ""),
                        "labels": [{"name": n} for n in body.get("labels", [])],
                        "state": "open",
                        "html_url": f"{self.server.url}/{match[1]}/issues/{number}",
                    }
                    items.append(item)
                    self._reply(201, item)
                    return
            if (match := _GH_ISSUE.match(path)) and method == "PATCH":
                for item in state.issues.get(("github", match[1]), []):
                    if item["number"] == int(match[2]):
                        item.update(
                            {k: v for k, v in body.items() if k in ("title", "body", "state")}
                        )
                        self._reply(200, item)
                        return
                self._reply(404, {"message": "Not Found"})
                return
            if match := _GL_NOTES.match(path):
                items = state.comments.setdefault(("gitlab", f"{match[1]}!{match[2]}"), [])
                if method == "GET":
                    self._page(items, query, "gitlab", path)
                    return
                if method == "POST":
                    item = {"id": state.new_id(), "body": body["body"], "system": False}
                    items.append(item)
                    self._reply(201, item)
                    return
            if (match := _GL_NOTE.match(path)) and method == "PUT":
                for item in state.comments.get(("gitlab", f"{match[1]}!{match[2]}"), []):
                    if item["id"] == int(match[3]):
                        item["body"] = body["body"]
                        self._reply(200, item)
                        return
                self._reply(404, {"message": "404 Not found"})
                return
            if match := _GL_ISSUES.match(path):
                items = state.issues.setdefault(("gitlab", match[1]), [])
                if method == "GET":
                    wanted = query.get("state", ["all"])[0]
                    shown = [i for i in items if wanted == "all" or i["state"] == wanted]
                    self._page(shown, query, "gitlab", path)
                    return
                if method == "POST":
                    iid = len(items) + 1
                    item = {
                        "iid": iid,
                        "title": body["title"],
                        "description": body.get("description", ""),
                        "labels": [x for x in str(body.get("labels", "")).split(",") if x],
                        "state": "opened",
                        "web_url": f"{self.server.url}/gitlab/{match[1]}/-/issues/{iid}",
                    }
                    items.append(item)
                    self._reply(201, item)
                    return
            if (match := _GL_ISSUE.match(path)) and method == "PUT":
                for item in state.issues.get(("gitlab", match[1]), []):
                    if item["iid"] == int(match[2]):
                        item.update(
                            {k: v for k, v in body.items() if k in ("title", "description")}
                        )
                        self._reply(200, item)
                        return
                self._reply(404, {"message": "404 Not found"})
                return
            self._reply(404, {"message": f"no fake for {method} {path}"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_PUT(self) -> None:
            self._handle("PUT")

    return Handler


@contextmanager
def forge_server(token: str) -> Iterator[FakeForge]:
    """Serve the fake GitHub and GitLab APIs on a loopback port."""
    state = ForgeState(token)
    with LoopbackServer(_handler(state)) as server:
        yield FakeForge(server.url, state, server)
