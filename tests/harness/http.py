"""The one base of the tests' HTTP servers: a threaded server on a loopback
port in a thread of its own, a quiet handler with JSON helpers, and the
requests it received, for tests to check what a client sent."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class LoopbackServer(ThreadingHTTPServer):
    """Serves `handler` from a thread; a context manager that starts and stops it."""

    daemon_threads = True

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        address: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        super().__init__(address, handler)
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class JsonHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing, reads and sends JSON, and records requests."""

    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # the test's assertions say what matters, not an access log

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def read_json(self) -> Any:
        raw = self.read_body()
        return json.loads(raw) if raw else None

    def record(self, body: Any) -> Recorded:
        """Keep this request, with `body` as read, in the server's `requests`."""
        parts = urlsplit(self.path)
        seen = Recorded(
            self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body
        )
        with self.server.lock:
            self.server.requests.append(seen)
        return seen

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

    def send_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class RefusingHandler(JsonHandler):
    """Records every request and answers 500: a server that must never be contacted."""

    def _refuse(self) -> None:
        self.record(self.read_body())
        self.send_bytes(500, b"")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _refuse
