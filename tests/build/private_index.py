"""A private package index on loopback that answers only with basic auth.

It serves one wheel, made here, through PEP 503's simple API. Every request
is recorded with whether it carried the right credentials, so a test can see
that the build reached the index with the secret configuration.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.harness.http import JsonHandler, LoopbackServer

PACKAGE = "modelship-private-dep"
MODULE = "modelship_private_dep"
VERSION = "1.0"
MARKER = "served-by-the-private-index"


def make_wheel() -> tuple[str, bytes]:
    """A pure-Python wheel whose module holds `MARKER`."""
    dist_info = f"{MODULE}-{VERSION}.dist-info"
    files = {
        f"{MODULE}/__init__.py": f"VALUE = {MARKER!r}\n".encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: modelship-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return f"{MODULE}-{VERSION}-py3-none-any.whl", buffer.getvalue()


@dataclass
class PrivateIndex:
    port: int
    username: str
    password: str
    requests: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.username}:{self.password}@127.0.0.1:{self.port}/simple/"


def _handler(index: PrivateIndex, wheel_name: str, wheel: bytes) -> type[JsonHandler]:
    token = base64.b64encode(f"{index.username}:{index.password}".encode()).decode()

    class Handler(JsonHandler):
        def _send(self, status: int, body: bytes, content_type: str = "text/html") -> None:
            challenge = {"WWW-Authenticate": 'Basic realm="private"'} if status == 401 else {}
            self.send_bytes(status, body, content_type, challenge)

        def do_GET(self) -> None:
            authorized = self.headers.get("Authorization", "") == f"Basic {token}"
            index.requests.append((self.path, authorized))
            if not authorized:
                self._send(401, b"authentication required")
            elif self.path.rstrip("/") == f"/simple/{PACKAGE}":
                link = f'<a href="/files/{wheel_name}">{wheel_name}</a>'
                self._send(200, f"<html><body>{link}</body></html>".encode())
            elif self.path == f"/files/{wheel_name}":
                self._send(200, wheel, "application/octet-stream")
            else:
                self._send(404, b"not here")

    return Handler


@contextmanager
def private_index(username: str, password: str) -> Iterator[PrivateIndex]:
    wheel_name, wheel = make_wheel()
    index = PrivateIndex(0, username, password)
    with LoopbackServer(_handler(index, wheel_name, wheel)) as server:
        index.port = server.port
        yield index
