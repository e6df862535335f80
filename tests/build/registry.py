"""A real OCI registry on loopback: Debian's `docker-registry` (distribution 2.8), htpasswd auth."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelship.dev.registry import Registry, local_registry
from modelship.dev.registry import available as _available

__all__ = ["Registry", "available", "registry"]


def available() -> bool:
    return _available(auth=True)


@contextmanager
def registry(root: Path, username: str, password: str) -> Iterator[Registry]:
    with local_registry(root, username, password) as found:
        yield found
