"""The job image of the container runs, built locally and cached.

No registry is reachable from the test machines, so the image's base is made
here with `modelship.images.localbase` (`debootstrap --variant=minbase` with
the host's extra CA certificates, which the egress proxy needs), `docker
import`ed as
`localhost/modelship-test/debian-base:<key>`. On it `docker build` builds
`workflows-examples/runner-image/Containerfile`, the image users build from
Debian's public image. Both tags are hashes of what decides their content, so
the Docker Engine's own image store is the cache: a second run finds them in
well under a second. The root filesystem is also kept as a tarball in the
cache folder, so an engine with an empty store (a private one) imports it
without running debootstrap again.

Cold: about 3-4 minutes (debootstrap, then apt and pip in the build).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelship.images import localbase
from tests.harness.checkout import REPO_ROOT

CONTAINERFILE_DIR = REPO_ROOT / "workflows-examples" / "runner-image"
BASE_REPOSITORY = "localhost/modelship-test/debian-base"
RUNNER_REPOSITORY = "localhost/modelship-test/runner"
# Debian with the CA certificates: the runner image's Containerfile adds the rest.
BASE_SPEC = localbase.BaseSpec(
    name="debian-base",
    packages=("ca-certificates",),
    env=(
        ("PATH", localbase.PATH_ENV),
        ("LANG", "C.UTF-8"),
        # pip and uv carry their own CA lists; the host's proxy CA is in the system one.
        ("PIP_CERT", localbase.SYSTEM_CA_BUNDLE),
        ("SSL_CERT_FILE", localbase.SYSTEM_CA_BUNDLE),
    ),
)


def cache_dir() -> Path:
    base = os.environ.get("MODELSHIP_TEST_CACHE") or str(Path.home() / ".cache" / "modelship-tests")
    return Path(base) / "runner-image"


@dataclass(frozen=True)
class Engine:
    """How to reach one Docker Engine: the environment the `docker` CLI, act and
    gitlab-ci-local are started with (DOCKER_HOST when it is not the default)."""

    env: Mapping[str, str]

    def docker(self, *args: str, timeout: float = 900, stdin: int | None = None) -> str:
        done = subprocess.run(
            ["docker", *args],
            env={**os.environ, **self.env},
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])} failed: {done.stderr[-3000:]}")
        return done.stdout.strip()

    def has_image(self, ref: str) -> bool:
        done = subprocess.run(
            ["docker", "image", "inspect", ref],
            env={**os.environ, **self.env},
            capture_output=True,
            check=False,
        )
        return done.returncode == 0


def base_key() -> str:
    return BASE_SPEC.image_key()


def uv_version() -> str:
    """The uv the tests run with: the job image gets the same one, so both
    read and write the shared download cache in the same format."""
    argv = [sys.executable, "-m", "uv", "--version"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def runner_key(base_ref: str) -> str:
    digest = hashlib.sha256(base_ref.encode())
    digest.update(uv_version().encode())
    for path in sorted(CONTAINERFILE_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_base_image(engine: Engine) -> str:
    ref = f"{BASE_REPOSITORY}:{base_key()}"
    if engine.has_image(ref):
        return ref
    changes: list[str] = []
    for change in localbase.image_changes(BASE_SPEC):
        changes += ["--change", change]
    tarball, _ = localbase.rootfs_tarball(BASE_SPEC, cache_dir())
    with tarball.open("rb") as tar:
        engine.docker("import", *changes, "-", ref, stdin=tar.fileno())
    return ref


def ensure_runner_image(engine: Engine) -> tuple[str, float]:
    """The job image's reference, and how long making it took (0 when cached)."""
    started = time.monotonic()
    with localbase.locked(cache_dir() / "build.lock"):
        base = ensure_base_image(engine)
        ref = f"{RUNNER_REPOSITORY}:{runner_key(base)}"
        if engine.has_image(ref):
            return ref, 0.0
        engine.docker(
            "build",
            "--network",
            "host",
            "--build-arg",
            f"BASE={base}",
            "--build-arg",
            f"UV_VERSION={uv_version()}",
            "--file",
            str(CONTAINERFILE_DIR / "Containerfile"),
            "--tag",
            ref,
            str(CONTAINERFILE_DIR),
            timeout=1200,
        )
    return ref, time.monotonic() - started


if __name__ == "__main__":
    image, took = ensure_runner_image(Engine({}))
    print(image, f"made in {took:.1f}s" if took else "cached")
