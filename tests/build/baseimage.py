"""A Python base image made locally from Debian packages, cached on disk.

No registry is reachable from the test machines, so the image the build stage
starts `FROM` is made here, as air-gapped users make theirs
(`modelship.images.localbase`: `debootstrap --variant=minbase` with python3
and venv), the rootfs copied into a `buildah from scratch` container and
committed into a Buildah store of the tests' own, or `docker import`ed. The store lives in a cache
directory (`$MODELSHIP_TEST_CACHE`, default `~/.cache/modelship-tests`) and
the image tag is a hash of everything that decides its content (suite,
packages, mirror, the host's extra CA certificates), not of the date, so the
second run finds the image, and the layers built on it, already there.

Cold: about 2-3 minutes (debootstrap), warm: under a second.

The storage driver is `overlay` unless `MODELSHIP_TEST_STORAGE_DRIVER=vfs`:
both work on these machines, but `vfs` copies the whole root filesystem for
every build step and every container (about 1 GB with MLflow installed), which
made a fully cached rebuild take ten minutes here against seconds on overlay.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.images import localbase

REPOSITORY = "localhost/modelship-test/python-base"
SPEC = localbase.python_base()


def cache_root() -> Path:
    base = os.environ.get("MODELSHIP_TEST_CACHE") or str(Path.home() / ".cache" / "modelship-tests")
    return Path(base) / "build"


def storage_driver() -> str:
    return os.environ.get("MODELSHIP_TEST_STORAGE_DRIVER") or "overlay"


@dataclass(frozen=True)
class BuildahStore:
    """A Buildah/Podman image store of its own, through `CONTAINERS_STORAGE_CONF`."""

    root: Path
    driver: str = "overlay"

    @classmethod
    def default(cls) -> BuildahStore:
        driver = storage_driver()
        return cls(cache_root() / driver, driver).prepare()

    @property
    def conf(self) -> Path:
        return self.root / "storage.conf"

    @property
    def env(self) -> dict[str, str]:
        return {
            "CONTAINERS_STORAGE_CONF": str(self.conf),
            "STORAGE_DRIVER": self.driver,
            "BUILDAH_ISOLATION": "chroot",
        }

    def prepare(self) -> BuildahStore:
        self.root.mkdir(parents=True, exist_ok=True)
        text = (
            "[storage]\n"
            f'driver = "{self.driver}"\n'
            f'graphroot = "{self.root / "storage"}"\n'
            f'runroot = "{self.root / "run"}"\n'
        )
        if not self.conf.exists() or self.conf.read_text() != text:
            self.conf.write_text(text)
        return self

    def buildah(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        done = subprocess.run(
            ["buildah", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"buildah {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout.strip()

    def has_image(self, ref: str) -> bool:
        done = subprocess.run(
            ["buildah", "inspect", "--type", "image", ref],
            env={**os.environ, **self.env},
            capture_output=True,
            check=False,
        )
        return done.returncode == 0


def image_key() -> str:
    return SPEC.image_key()


def image_env() -> dict[str, str]:
    return dict(SPEC.env)


def rootfs_tarball() -> tuple[Path, float]:
    """The debootstrapped Python root filesystem (modelship.images.localbase), cached.

    Buildah and the Docker engine both start their base image from it, so a
    machine debootstraps once whichever builder its tests use first.
    """
    return localbase.rootfs_tarball(SPEC, cache_root())


def _commit_rootfs(store: BuildahStore, tarball: Path, ref: str, env: Mapping[str, str]) -> None:
    ctr = store.buildah("from", "scratch")
    try:
        mount = Path(store.buildah("mount", ctr))
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(mount), "-xpf", str(tarball)],
            check=True,
            timeout=600,
        )
        store.buildah("umount", ctr)
        config = ["config", "--cmd", "/bin/sh", "--os", "linux", "--arch", "amd64"]
        for key, value in env.items():
            config += ["--env", f"{key}={value}"]
        store.buildah(*config, ctr)
        store.buildah("commit", "--format", "docker", "--rm", ctr, ref)
    except BaseException:
        store.buildah("rm", ctr, check=False)
        raise


def ensure_base_image(store: BuildahStore) -> tuple[str, float]:
    """The base image reference, and how long making it took (0 when cached)."""
    ref = f"{REPOSITORY}:{image_key()}"
    with localbase.locked(store.root / "base.lock"):
        if store.has_image(ref):
            return ref, 0.0
        started = time.monotonic()
        tarball, _ = rootfs_tarball()
        _commit_rootfs(store, tarball, ref, image_env())
        return ref, time.monotonic() - started


def ensure_docker_base_image(client: Any) -> tuple[str, float]:
    """The same base image in a Docker engine (`docker import` of the cached rootfs)."""
    return localbase.ensure_docker_image(client, SPEC, REPOSITORY, cache_root())


def ensure_docker_image_without_python(client: Any, base: str) -> str:
    """The Docker base image with every Python interpreter removed."""
    import docker.errors

    ref = f"{REPOSITORY}-nopython:{image_key()}"
    try:
        client.images.get(ref)
        return ref
    except docker.errors.ImageNotFound:
        pass
    container = client.containers.run(
        base,
        ["/bin/sh", "-c", "rm -rf /usr/bin/python3* /usr/lib/python3*"],
        detach=True,
    )
    try:
        container.wait(timeout=120)
        repository, _, tag = ref.rpartition(":")
        container.commit(repository=repository, tag=tag)
    finally:
        container.remove(force=True)
    return ref


def ensure_image_without_python(store: BuildahStore, base: str) -> str:
    """The same Debian base with every Python interpreter removed."""
    ref = f"{REPOSITORY}-nopython:{image_key()}"
    with localbase.locked(store.root / "base.lock"):
        if store.has_image(ref):
            return ref
        ctr = store.buildah("from", "--pull-never", base)
        try:
            mount = Path(store.buildah("mount", ctr))
            for path in [*mount.glob("usr/bin/python3*"), *mount.glob("usr/lib/python3*")]:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            store.buildah("umount", ctr)
            store.buildah("commit", "--format", "docker", "--rm", ctr, ref)
        except BaseException:
            store.buildah("rm", ctr, check=False)
            raise
        return ref


if __name__ == "__main__":
    store = BuildahStore.default()
    started = time.monotonic()
    base, took = ensure_base_image(store)
    print(base, f"made in {took:.1f}s" if took else "cached")
    print(ensure_image_without_python(store, base))
    print(f"total {time.monotonic() - started:.1f}s")
