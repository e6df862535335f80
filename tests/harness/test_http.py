"""LoopbackServer and JsonHandler: what every test HTTP server relies on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.harness.http import JsonHandler, LoopbackServer, RefusingHandler


class Echo(JsonHandler):
    def do_POST(self) -> None:
        body = self.record(self.read_json()).body
        self.send_json(201, {"got": body}, {"X-Echo": "yes"})


def test_requests_are_recorded_and_answered_in_json() -> None:
    with LoopbackServer(Echo) as server:
        request = urllib.request.Request(
            f"{server.url}/items?page=2",
            data=json.dumps({"name": "churn"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
            assert answer.headers["X-Echo"] == "yes"
            assert json.loads(answer.read()) == {"got": {"name": "churn"}}
    [seen] = server.requests
    assert (seen.method, seen.path, seen.query) == ("POST", "/items", {"page": ["2"]})
    assert seen.headers["Authorization"] == "Bearer t"
    assert seen.body == {"name": "churn"}


def test_a_stopped_server_no_longer_answers() -> None:
    with LoopbackServer(RefusingHandler) as server:
        url = server.url
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/anything", timeout=10)
        refused.value.close()
        assert refused.value.code == 500
        assert [r.path for r in server.requests] == ["/anything"]
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/anything", timeout=5)
