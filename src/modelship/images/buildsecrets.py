"""Build arguments and build secrets: what the pip install step may use, and how.

A build argument (`KEY=value`) reaches the pip install step as an environment
variable, e.g. `PIP_INDEX_URL`. Builders record build arguments in the image
history, so they must never carry a password.

A build secret (`id=pipconf,src=pip.conf`, or `id=pipconf,env=PIP_CONF`) is
mounted for the pip install step only (`RUN --mount=type=secret`), at
`/run/secrets/<id>`: it is in no layer and no history entry. Two ids mean
something to pip: `pipconf` becomes `PIP_CONFIG_FILE` (a private index with
its credentials) and `cacert` becomes `PIP_CERT` (a CA bundle that trusts a
company's proxy or index). Other ids are mounted as they are, for a pip
configuration that names them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

from modelship.ci.errors import UsageError

SECRETS_DIR = "/run/secrets"
# Secret ids that pip reads through its own environment variables.
PIP_SECRET_VARIABLES = {"pipconf": "PIP_CONFIG_FILE", "cacert": "PIP_CERT"}
NETWORKS = ("default", "host", "none")

_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class SecretSource:
    """Where a secret comes from: a file, or an environment variable."""

    id: str
    file: Path | None = None
    env: str = ""


@dataclass(frozen=True)
class BuildOptions:
    """What a builder passes besides the context: arguments, secret files, network."""

    build_args: dict[str, str] = field(default_factory=dict)
    secret_files: dict[str, Path] = field(default_factory=dict)
    network: str = "default"


def parse_build_args(lines: Iterable[str]) -> dict[str, str]:
    """`KEY=value` lines, e.g. `PIP_INDEX_URL=https://pypi.example.com/simple`."""
    found: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or not _ARG_NAME.fullmatch(key.strip()):
            raise UsageError(
                f"input 'build-args': {line[:60]!r} is not KEY=value",
                "e.g. PIP_INDEX_URL=https://pypi.example.com/simple",
            )
        found[key.strip()] = value.strip()
    return found


def parse_secrets(lines: Iterable[str]) -> list[SecretSource]:
    """`id=pipconf,src=pip.conf` or `id=pipconf,env=PIP_CONF`, one a line."""
    sources: list[SecretSource] = []
    for line in lines:
        fields: dict[str, str] = {}
        for part in line.split(","):
            key, sep, value = part.strip().partition("=")
            if not sep or key not in ("id", "src", "source", "env") or key in fields:
                raise _bad_secret(line)
            fields[key] = value.strip()
        source = fields.get("src") or fields.get("source") or ""
        secret_id = fields.get("id", "")
        if not _SECRET_ID.fullmatch(secret_id) or bool(source) == bool(fields.get("env")):
            raise _bad_secret(line)
        if any(s.id == secret_id for s in sources):
            raise UsageError(f"input 'secrets': id {secret_id!r} is given twice")
        sources.append(
            SecretSource(secret_id, Path(source) if source else None, fields.get("env", ""))
        )
    return sources


def _bad_secret(line: str) -> UsageError:
    return UsageError(
        f"input 'secrets': {line[:60]!r} is not id=NAME,src=FILE or id=NAME,env=VARIABLE",
        "e.g. id=pipconf,src=.ci/pip.conf (one secret a line)",
    )


@contextmanager
def secret_files(
    sources: Iterable[SecretSource], env: Mapping[str, str]
) -> Iterator[dict[str, Path]]:
    """Each secret as a file the builder reads; one from a variable is private and temporary."""
    files: dict[str, Path] = {}
    with TemporaryDirectory(prefix="modelship-secrets-") as tmp:
        os.chmod(tmp, 0o700)
        for source in sources:
            if source.file is not None:
                if not source.file.is_file():
                    raise UsageError(f"input 'secrets': {source.id}: no file at {source.file}")
                files[source.id] = source.file
                continue
            value = env.get(source.env)
            if not value:
                raise UsageError(
                    f"input 'secrets': {source.id}: the variable {source.env} is not set or empty"
                )
            path = Path(tmp) / source.id
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value)
            files[source.id] = path
        yield files


def secret_values(files: Mapping[str, Path]) -> list[str]:
    """The texts to mask: each secret whole, and each of its non-empty lines."""
    values: list[str] = []
    for path in files.values():
        text = path.read_text(encoding="utf-8", errors="replace")
        values.append(text.strip())
        values.extend(line.strip() for line in text.splitlines() if len(line.strip()) >= 6)
    return [v for v in values if v]


def pip_install_step(command: str, build_args: Iterable[str], secret_ids: Iterable[str]) -> str:
    """The Containerfile lines of the pip install: ARGs, secret mounts, pip's variables."""
    lines = [f"ARG {name}" for name in build_args]
    ids = list(secret_ids)
    if not ids:
        lines.append(f"RUN {command}")
        return "\n".join(lines)
    mounts = " ".join(f"--mount=type=secret,id={secret_id}" for secret_id in ids)
    exports = [
        f"export {PIP_SECRET_VARIABLES[secret_id]}={SECRETS_DIR}/{secret_id}"
        for secret_id in ids
        if secret_id in PIP_SECRET_VARIABLES
    ]
    # Mounted for this step only: the files never land in a layer.
    lines.append(f"RUN {mounts} \\\n    " + " && ".join([*exports, command]))
    return "\n".join(lines)
