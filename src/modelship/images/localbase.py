"""Base images made locally from Debian packages, for builds without a public registry.

Air-gapped networks (and machines whose only way out is a package mirror)
cannot pull `python:3.11-slim`. Debian's `debootstrap` makes a minimal root
filesystem from a package mirror alone; `docker import` turns it into an
image the build stage can start `FROM` (pass it as `base-image`).

The root filesystem is kept as a tarball in a cache folder, named by a hash
of what decides its content (suite, mirror, packages, the host's extra CA
certificates), never by the date: a second run, or another engine with an
empty image store, imports it again without running debootstrap. The image
tag is the same kind of hash, so an engine that has it already is not asked
to import it twice.

debootstrap needs root (it runs `chroot`) and takes two to three minutes;
an import takes seconds.

    python -m modelship.images.localbase [--cache DIR]    # prints the image reference
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIRROR = "http://deb.debian.org/debian"
# CA certificates a machine adds for its own proxies and private indexes: pip
# inside the image needs them to reach the index from there.
HOST_EXTRA_CAS = Path("/usr/local/share/ca-certificates")
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Bumped when the way the root filesystem is made changes.
_ROOTFS_REVISION = "v3"


@dataclass(frozen=True)
class BaseSpec:
    """One locally made base image: its packages, its name and its environment."""

    name: str  # file and tag prefix, e.g. `python-base`
    packages: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    suite: str = "bookworm"
    mirror: str = MIRROR

    def rootfs_key(self) -> str:
        """What decides the root filesystem's bytes."""
        digest = hashlib.sha256()
        for part in (self.suite, self.mirror, "minbase", *self.packages, _ROOTFS_REVISION):
            digest.update(part.encode() + b"\0")
        for ca in extra_cas():
            digest.update(ca.read_bytes())
        return digest.hexdigest()[:16]

    def image_key(self) -> str:
        """The root filesystem plus the image configuration (environment, command)."""
        digest = hashlib.sha256(self.rootfs_key().encode())
        for key, value in self.env:
            digest.update(f"{key}={value}".encode() + b"\0")
        return digest.hexdigest()[:16]


def extra_cas() -> list[Path]:
    if not HOST_EXTRA_CAS.is_dir():
        return []
    return sorted(p for p in HOST_EXTRA_CAS.rglob("*.crt") if p.is_file())


def _ca_env() -> tuple[tuple[str, str], ...]:
    # pip and uv carry their own CA lists; the host's extra CAs are in the system one.
    if not extra_cas():
        return ()
    return (("PIP_CERT", SYSTEM_CA_BUNDLE), ("SSL_CERT_FILE", SYSTEM_CA_BUNDLE))


def python_base() -> BaseSpec:
    """Debian's Python 3 with venv: what the serving image's Containerfile needs."""
    return BaseSpec(
        name="python-base",
        packages=("python3", "python3-venv", "ca-certificates"),
        env=(("PATH", PATH_ENV), ("LANG", "C.UTF-8"), *_ca_env()),
    )


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelship" / "base-images"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock file: one process makes a cached thing, the others wait for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _debootstrap(spec: BaseSpec, rootfs: Path) -> None:
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(spec.packages)}"]
    subprocess.run(
        [*argv, spec.suite, str(rootfs), spec.mirror],
        check=True,
        capture_output=True,
        timeout=1200,
    )
    cas = extra_cas()
    for ca in cas:
        target = rootfs / "usr/local/share/ca-certificates" / ca.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca, target)
    if cas:
        subprocess.run(
            ["chroot", str(rootfs), "update-ca-certificates"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    # Leave apt's caches and lists out of the image.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for child in (rootfs / leftover).glob("*"):
            if child.is_file():
                child.unlink()


def rootfs_tarball(spec: BaseSpec, cache: Path) -> tuple[Path, float]:
    """The debootstrapped root filesystem as a tar, made once; how long making it took."""
    tarball = cache / f"{spec.name}-{spec.rootfs_key()}.tar"
    with locked(cache / f"{spec.name}.lock"):
        if tarball.is_file():
            return tarball, 0.0
        if shutil.which("debootstrap") is None:
            raise FileNotFoundError("debootstrap is not installed (apt-get install debootstrap)")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=cache, prefix="rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            _debootstrap(spec, rootfs)
            partial = Path(tmp) / "rootfs.tar"
            # tar keeps owners, modes and links as debootstrap left them.
            subprocess.run(
                ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
                check=True,
                timeout=600,
            )
            partial.replace(tarball)
        return tarball, time.monotonic() - started


def image_changes(spec: BaseSpec) -> list[str]:
    """The Dockerfile instructions `docker import` applies to the root filesystem."""
    return [*(f"ENV {key}={value}" for key, value in spec.env), 'CMD ["/bin/sh"]']


def ensure_docker_image(
    client: Any, spec: BaseSpec, repository: str, cache: Path
) -> tuple[str, float]:
    """`<repository>:<key>` in the engine `client` talks to, imported when missing.

    Returns the reference and how long making it took (0 when the engine had it).
    """
    import docker.errors

    ref = f"{repository}:{spec.image_key()}"
    with locked(cache / f"{spec.name}-docker.lock"):
        try:
            client.images.get(ref)
            return ref, 0.0
        except docker.errors.ImageNotFound:
            pass
        started = time.monotonic()
        tarball, _ = rootfs_tarball(spec, cache)
        client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=ref.rpartition(":")[2],
            changes=image_changes(spec),
        )
        return ref, time.monotonic() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m modelship.images.localbase",
        description="Make the Python base image from Debian packages (debootstrap) and import "
        "it into the Docker engine at DOCKER_HOST; print its reference for `base-image`.",
    )
    parser.add_argument("--cache", type=Path, default=default_cache(), help="tarball cache")
    parser.add_argument("--repository", default="localhost/modelship/python-base")
    args = parser.parse_args(argv)
    import docker

    try:
        client = docker.from_env(timeout=900)
        client.ping()
    except Exception as err:  # any failure to connect means "no engine"
        print(f"error: no Docker engine answers: {str(err)[:200]}", file=sys.stderr)
        return 3
    try:
        ref, took = ensure_docker_image(client, python_base(), args.repository, args.cache)
    except (OSError, subprocess.SubprocessError) as err:
        print(f"error: making the base image failed: {str(err)[:300]}", file=sys.stderr)
        return 3
    print(ref)
    print(f"made in {took:.0f}s" if took else "cached", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
