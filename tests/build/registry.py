"""A real OCI registry on loopback: Debian's `docker-registry` (distribution 2.8), htpasswd auth."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.net import free_port
from tests.harness.servers import ServerProcess


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


def available() -> bool:
    return shutil.which("docker-registry") is not None and shutil.which("htpasswd") is not None


@contextmanager
def registry(root: Path, username: str, password: str) -> Iterator[Registry]:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    htpasswd = root / "htpasswd"
    done = subprocess.run(
        ["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=True
    )
    htpasswd.write_text(done.stdout)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  htpasswd:\n    realm: modelship-test\n    path: {htpasswd}\n"
    )
    conf = root / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "127.0.0.1:{port}"\ninsecure = true\n')
    argv = ["docker-registry", "serve", str(config)]
    with ServerProcess(argv, root / "registry.log", stop_timeout=10) as server:
        server.wait_http(f"http://127.0.0.1:{port}/v2/", timeout=30)
        yield Registry(f"127.0.0.1:{port}", username, password, conf)
