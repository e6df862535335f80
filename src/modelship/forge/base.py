"""What every forge driver offers: one comment per pull/merge request, one issue per topic.

A comment or issue is found again by a hidden HTML marker in its body, so a
re-run updates it in place instead of adding another one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from modelship.forge.http import ApiClient, ForgeError

if TYPE_CHECKING:
    import requests

Action = Literal["created", "updated"]

# GitHub refuses comment and issue bodies over 65536 characters.
MAX_BODY = 65_000
PER_PAGE = 100
MAX_PAGES = 50
TRUNCATED = "\n\n_(truncated: the full report is in the job's artifacts)_\n"

_MARKER_KEY = re.compile(r"[^A-Za-z0-9_.:/@-]+")


@dataclass(frozen=True)
class Upserted:
    action: Action
    id: int  # comment/note id, or issue number/iid
    url: str


def marker(kind: str, key: str) -> str:
    """A hidden HTML comment that identifies a comment or issue, e.g. one per model."""
    clean = _MARKER_KEY.sub("-", f"{kind}:{key}")[:200]
    return f"<!-- modelship:{clean} -->"


def with_marker(mark: str, body: str) -> str:
    text = f"{mark}\n{body}"
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - len(TRUNCATED)] + TRUNCATED
    return text


def find_marked(items: Iterator[dict[str, Any]], mark: str, key: str) -> dict[str, Any] | None:
    for item in items:
        if mark in str(item.get(key) or ""):
            return item
    return None


def action_for(found: dict[str, Any] | None) -> Action:
    return "updated" if found else "created"


Query = dict[str, str]


class Forge(ABC):
    """A forge's REST API, reached over one retrying session that carries the token."""

    name: ClassVar[str]  # the CI platform this forge serves, e.g. "github"
    change_request: ClassVar[str]  # what it calls a proposed change: "pull request"

    def __init__(
        self, api_url: str, project: str, token: str, session: requests.Session | None = None
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.project = project  # owner/name (GitHub) or the numeric project id (GitLab)
        self.http = ApiClient(self.name, self.api_url, token, self.auth_headers(token), session)

    def __repr__(self) -> str:  # never the token
        return f"{type(self).__name__}({self.api_url!r}, {self.project!r})"

    @classmethod
    @abstractmethod
    def from_env(
        cls, env: Mapping[str, str], token: str, session: requests.Session | None = None
    ) -> Forge | None:
        """The driver for the project the CI variables name, or None when they name none."""

    @staticmethod
    @abstractmethod
    def auth_headers(token: str) -> dict[str, str]:
        """The headers that carry the token, the only place it goes."""

    @abstractmethod
    def upsert_comment(self, number: int, mark: str, body: str) -> Upserted:
        """Create or update the comment holding `mark` on pull/merge request `number`."""

    @abstractmethod
    def upsert_issue(
        self, mark: str, title: str, body: str, *, labels: Sequence[str] = ()
    ) -> Upserted:
        """Create or update the open issue holding `mark`.

        Only open issues are searched: once people close an issue, the next
        occurrence opens a fresh one. Labels are set on creation and update.
        """

    @abstractmethod
    def next_page(
        self, response: requests.Response, url: str, query: Query | None
    ) -> tuple[str | None, Query | None]:
        """Where the list continues, from the forge's pagination headers."""

    def pages(self, url: str, params: Query) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, up to MAX_PAGES pages."""
        query: Query | None = {**params, "per_page": str(PER_PAGE)}
        next_url: str | None = url
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            response = self.http.request("GET", next_url, params=query)
            where = f"GET {urlsplit(url).path}"
            items = self.http.json(response, where)
            if not isinstance(items, list):
                raise ForgeError(f"{self.name} API {where}: not a list")
            yield from (item for item in items if isinstance(item, dict))
            next_url, query = self.next_page(response, url, query)

    def send(self, method: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A write request whose answer is the JSON object it created or changed."""
        response = self.http.request(method, url, json=payload)
        where = f"{method} {urlsplit(url).path}"
        data = self.http.json(response, where)
        if not isinstance(data, dict):
            raise ForgeError(f"{self.name} API {where}: not an object")
        return data
