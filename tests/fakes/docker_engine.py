"""A Docker Engine API server on a loopback port, for the build stage's Docker path.

It speaks the endpoints the `docker` SDK calls when modelship builds and
pushes: `GET /_ping`, `GET /version`, `POST /build` (a tar context in, a
stream of JSON progress out), `GET /images/{name}/json`, `POST
/images/{name}/tag` and `POST /images/{name}/push` (streamed progress, the
`X-Registry-Auth` header checked against the credentials the test sets).

It does not run containers: a build reads the Containerfile out of the tar
and keeps what an engine would record about the image (labels, user,
healthcheck, command), which is what the stage reads back. Every request is
recorded, so tests can assert what crossed the wire (and that no password
did, outside the auth header).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

API_VERSION = "1.45"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeImage:
    id: str
    tags: list[str]
    size: int
    labels: dict[str, str]
    user: str
    healthcheck: list[str]
    cmd: list[str]
    base: str
    context_files: list[str]
    repo_digests: list[str] = field(default_factory=list)


@dataclass
class EngineState:
    images: dict[str, FakeImage] = field(default_factory=dict)  # id -> image
    requests: list[Recorded] = field(default_factory=list)
    # registry host -> (username, password) the registry accepts.
    registry_users: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Base images "without Python": a build FROM one fails at the first RUN.
    images_without_python: set[str] = field(default_factory=set)
    pushed: dict[str, str] = field(default_factory=dict)  # ref -> digest
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, name: str) -> FakeImage | None:
        if name.startswith("sha256:") and name in self.images:
            return self.images[name]
        if f"sha256:{name}" in self.images:
            return self.images[f"sha256:{name}"]
        wanted = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
        for image in self.images.values():
            if wanted in image.tags:
                return image
        return None


# -- Containerfile reading (just enough of the syntax) ------------------------


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _words(text: str) -> list[str]:
    """Split `"k"="v" k2=v2` the way the Dockerfile parser does for LABEL."""
    words: list[str] = []
    word = ""
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and index + 1 < len(text) and text[index + 1] in '"\\$':
                word += text[index + 1]
                index += 2
                continue
            if char == quote:
                quote = ""
            else:
                word += char
        elif char in "\"'":
            quote = char
        elif char.isspace():
            if word:
                words.append(word)
                word = ""
        elif char == "\\" and index + 1 < len(text):
            word += text[index + 1]
            index += 2
            continue
        else:
            word += char
        index += 1
    if word:
        words.append(word)
    return words


def parse_containerfile(text: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "base": "",
        "labels": {},
        "user": "",
        "healthcheck": [],
        "cmd": [],
        "steps": [],
    }
    for line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        info["steps"].append(f"{instruction} {rest.strip()}"[:120])
        if instruction == "FROM":
            info["base"] = rest.split()[0]
        elif instruction == "LABEL":
            for word in _words(rest):
                key, _, value = word.partition("=")
                info["labels"][key] = value
        elif instruction == "USER":
            info["user"] = rest.strip()
        elif instruction == "HEALTHCHECK":
            cmd = rest[rest.find("CMD") + 3 :].strip() if "CMD" in rest else ""
            info["healthcheck"] = ["CMD", *json.loads(cmd)] if cmd.startswith("[") else []
        elif instruction == "CMD":
            info["cmd"] = json.loads(rest) if rest.strip().startswith("[") else ["sh", "-c", rest]
    return info


# -- the server ---------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence the default
        return

    # -- plumbing --
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Api-Version", API_VERSION)
        self.end_headers()
        self.wfile.write(data)

    def _text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Api-Version", API_VERSION)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, chunks: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            data = (json.dumps(chunk) + "\r\n").encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _record(self, body: bytes) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        path = re.sub(r"^/v[0-9.]+", "", unquote(parts.path))
        query = parse_qs(parts.query)
        with self.server.state.lock:
            self.server.state.requests.append(
                Recorded(self.command, path, query, dict(self.headers.items()), body)
            )
        return path, query

    # -- endpoints --
    def do_HEAD(self) -> None:
        self._record(b"")
        self._text(200, "")

    def do_GET(self) -> None:
        path, _ = self._record(b"")
        if path == "/_ping":
            self._text(200, "OK")
        elif path == "/version":
            self._json(
                200,
                {
                    "Version": "27.0.0-modelship-fake",
                    "ApiVersion": API_VERSION,
                    "MinAPIVersion": "1.24",
                    "Os": "linux",
                    "Arch": "amd64",
                },
            )
        elif match := re.fullmatch(r"/images/(.+)/json", path):
            image = self.server.state.find(match.group(1))
            if image is None:
                self._json(404, {"message": f"No such image: {match.group(1)}"})
                return
            self._json(200, _inspect(image))
        else:
            self._json(404, {"message": f"page not found: {path}"})

    def do_POST(self) -> None:
        body = self._body()
        path, query = self._record(body)
        if path == "/build":
            self._build(body, query)
        elif match := re.fullmatch(r"/images/(.+)/tag", path):
            image = self.server.state.find(match.group(1))
            if image is None:
                self._json(404, {"message": f"No such image: {match.group(1)}"})
                return
            ref = f"{query['repo'][0]}:{query.get('tag', ['latest'])[0]}"
            with self.server.state.lock:
                if ref not in image.tags:
                    image.tags.append(ref)
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif match := re.fullmatch(r"/images/(.+)/push", path):
            self._push(match.group(1), query)
        else:
            self._json(404, {"message": f"page not found: {path}"})

    def _build(self, body: bytes, query: dict[str, list[str]]) -> None:
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        dockerfile = query.get("dockerfile", ["Dockerfile"])[0]
        try:
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                names = tar.getnames()
                member = tar.extractfile(dockerfile)
                text = member.read().decode() if member else ""
        except (tarfile.TarError, KeyError):
            self._json(
                500,
                {"message": f"Cannot locate specified Dockerfile: {dockerfile}"},
            )
            return
        info = parse_containerfile(text)
        chunks: list[dict[str, Any]] = []
        steps = info["steps"]
        for number, step in enumerate(steps, start=1):
            chunks.append({"stream": f"Step {number}/{len(steps)} : {step}\n"})
            if step.startswith("RUN") and info["base"] in self.server.state.images_without_python:
                chunks.append(
                    {
                        "stream": "modelship-error: no-python: the base image has no "
                        "python3 on PATH\n"
                    }
                )
                message = "The command '/bin/sh -c if ...' returned a non-zero code: 97"
                chunks.append({"errorDetail": {"code": 97, "message": message}, "error": message})
                self._stream(chunks)
                return
        image_id = "sha256:" + hashlib.sha256(body).hexdigest()
        extra_labels = json.loads(query.get("labels", ["{}"])[0])
        image = FakeImage(
            id=image_id,
            tags=[t if ":" in t.rsplit("/", 1)[-1] else f"{t}:latest" for t in query.get("t", [])],
            size=len(body),
            labels={**info["labels"], **extra_labels},
            user=info["user"],
            healthcheck=info["healthcheck"],
            cmd=info["cmd"],
            base=info["base"],
            context_files=names,
        )
        with self.server.state.lock:
            self.server.state.images[image_id] = image
        chunks.append({"aux": {"ID": image_id}})
        chunks.append({"stream": f"Successfully built {image_id[7:19]}\n"})
        for tag in image.tags:
            chunks.append({"stream": f"Successfully tagged {tag}\n"})
        self._stream(chunks)

    def _push(self, name: str, query: dict[str, list[str]]) -> None:
        tag = query.get("tag", ["latest"])[0]
        ref = f"{name}:{tag}"
        image = self.server.state.find(ref)
        if image is None:
            self._json(404, {"message": f"An image does not exist locally with the tag: {name}"})
            return
        registry = name.split("/", 1)[0]
        header = self.headers.get("X-Registry-Auth", "")
        auth: dict[str, Any] = {}
        if header:
            padded = header + "=" * (-len(header) % 4)
            auth = json.loads(base64.urlsafe_b64decode(padded.encode()))
        wanted = self.server.state.registry_users.get(registry)
        chunks: list[dict[str, Any]] = [
            {"status": f"The push refers to repository [{name}]"},
            {"status": "Preparing", "progressDetail": {}, "id": image.id[7:19]},
        ]
        if wanted is not None and (auth.get("username"), auth.get("password")) != wanted:
            message = "unauthorized: authentication required"
            chunks.append({"errorDetail": {"message": message}, "error": message})
            self._stream(chunks)
            return
        digest = "sha256:" + hashlib.sha256(f"{image.id}|{ref}".encode()).hexdigest()
        with self.server.state.lock:
            self.server.state.pushed[ref] = digest
            repo_digest = f"{name}@{digest}"
            if repo_digest not in image.repo_digests:
                image.repo_digests.append(repo_digest)
        chunks += [
            {"status": "Pushing", "progressDetail": {"current": 512, "total": image.size}},
            {"status": "Pushed", "progressDetail": {}, "id": image.id[7:19]},
            {"status": f"{tag}: digest: {digest} size: 1234"},
            {"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": 1234}},
        ]
        self._stream(chunks)


def _inspect(image: FakeImage) -> dict[str, Any]:
    return {
        "Id": image.id,
        "RepoTags": image.tags,
        "RepoDigests": image.repo_digests,
        "Size": image.size,
        "Os": "linux",
        "Architecture": "amd64",
        "Config": {
            "User": image.user,
            "Labels": image.labels,
            "Cmd": image.cmd,
            "Healthcheck": {"Test": image.healthcheck} if image.healthcheck else None,
        },
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: EngineState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@dataclass
class FakeEngine:
    url: str
    state: EngineState

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.url}

    def requests_to(self, path_pattern: str) -> list[Recorded]:
        return [r for r in self.state.requests if re.fullmatch(path_pattern, r.path)]


@contextmanager
def docker_engine() -> Iterator[FakeEngine]:
    state = EngineState()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield FakeEngine(f"tcp://{host!s}:{port}", state)
    finally:
        server.shutdown()
        server.server_close()
