"""One HTTP session per forge: retries on rate limits and server errors, timeouts, no leaks.

The token travels only in a request header, set once on the session. It is
never part of a URL, an error message or a log line, and requests are never
redirected: `requests` strips `Authorization` on a redirect to another host,
but not GitLab's `PRIVATE-TOKEN`, so a redirect is reported instead of followed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# Rate limits (429) and the server errors a retry can cure. A POST that failed
# with a 5xx may have been applied; the marker lookup of the next run then
# updates one of the comments, which beats losing the report.
RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRIES = 3
BACKOFF_SECONDS = 0.5
# A forge can ask for a long pause (GitHub's secondary rate limit says minutes);
# a CI job should fail with the forge's answer rather than sit for an hour.
MAX_RETRY_AFTER = 60.0
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0

_SPACES = re.compile(r"\s+")


class ForgeError(Exception):
    """A forge request failed. The message is one line and never holds the token."""


class _BoundedRetry(Retry):
    """urllib3's retry policy with Retry-After honoured up to MAX_RETRY_AFTER seconds."""

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER)


def new_session(retries: int = RETRIES, backoff: float = BACKOFF_SECONDS) -> requests.Session:
    """A session that retries 429 and 5xx answers (any method) and connection failures."""
    policy = _BoundedRetry(
        total=retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # POST and PATCH too: a 429 means nothing was done
        backoff_factor=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer is reported with the forge's message
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=policy)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class ApiClient:
    """Requests to one forge API over one session; failures become one-line ForgeErrors."""

    def __init__(
        self,
        forge: str,
        api_url: str,
        token: str,
        headers: Mapping[str, str],
        session: requests.Session | None = None,
    ) -> None:
        self.forge = forge
        self.host = urlsplit(api_url).netloc
        self._token = token
        self.session = session if session is not None else new_session()
        self.session.headers.update({**headers, "User-Agent": "modelship"})

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        where = f"{self.forge} API {method} {urlsplit(url).path}"
        try:
            response = self.session.request(
                method,
                url,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as err:
            raise ForgeError(self._one_line(f"{where} failed: {type(err).__name__}")) from None
        if response.is_redirect:
            raise ForgeError(
                self._one_line(
                    f"{where} was redirected (HTTP {response.status_code}); "
                    "check the API URL, the token is not sent on"
                )
            )
        if response.status_code >= 400:
            raise ForgeError(self._one_line(f"{where} {_describe(response)}"))
        return response

    def json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ForgeError(f"{self.forge} API {what}: the answer is not JSON") from None

    def _one_line(self, text: str) -> str:
        if self._token:
            text = text.replace(self._token, "***")
        return _SPACES.sub(" ", text).strip()


def _describe(response: requests.Response) -> str:
    detail = ""
    try:
        payload = response.json()
        if isinstance(payload, dict):
            detail = str(payload.get("message") or payload.get("error") or "")
    except ValueError:
        detail = response.text
    hint = ""
    if response.status_code in (401, 403, 404):
        hint = " (check the token and its permissions: pull requests/issues write, or api scope)"
    elif response.status_code in RETRY_STATUSES:
        hint = " (still failing after retries with backoff)"
    return f"returned HTTP {response.status_code}: {detail[:200]}{hint}"
