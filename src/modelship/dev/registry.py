"""An OCI registry on loopback for the demo and the tests: Debian's `docker-registry`.

Distribution 2.8 serving plain HTTP on `127.0.0.1:<free port>`, its blobs in
a folder of the caller's; with a user and password when asked (htpasswd).
The Docker Engine pushes to a loopback registry over HTTP without further
set-up; Buildah and Podman are told through the `registries.conf` written
beside it. Stopped (by its PID) when the block ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    username: str
    password: str
    registries_conf: Path

    @property
    def env(self) -> dict[str, str]:
        # Plain HTTP on loopback: containers/image needs to be told it is allowed.
        return {"CONTAINERS_REGISTRIES_CONF": str(self.registries_conf)}


def available(auth: bool = True) -> bool:
    tools = ("docker-registry", "htpasswd") if auth else ("docker-registry",)
    return all(shutil.which(tool) is not None for tool in tools)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a loopback URL we made)
                return
        except urllib.error.HTTPError:
            return  # 401 without credentials: it answers
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"docker-registry did not answer on {url} within {timeout:.0f}s")


def _config(root: Path, port: int, htpasswd: Path | None) -> Path:
    config = root / "config.yml"
    text = (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    if htpasswd is not None:
        text += f"auth:\n  htpasswd:\n    realm: modelship\n    path: {htpasswd}\n"
    config.write_text(text)
    return config


@contextmanager
def local_registry(root: Path, username: str = "", password: str = "") -> Iterator[Registry]:
    """A registry for the block's duration; with htpasswd auth when `username` is given."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    htpasswd: Path | None = None
    if username:
        htpasswd = root / "htpasswd"
        done = subprocess.run(
            ["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=True
        )
        htpasswd.write_text(done.stdout)
    config = _config(root, port, htpasswd)
    conf = root / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "127.0.0.1:{port}"\ninsecure = true\n')
    with (root / "registry.log").open("wb") as log:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait(f"http://127.0.0.1:{port}/v2/", proc, timeout=30)
        yield Registry(f"127.0.0.1:{port}", username, password, conf)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
