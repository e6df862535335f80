"""Kubeconfig: a path or inline content, kept secret, turned into an API client.

Inline content (raw YAML or base64 of it, as CI variables often hold it) is
written to a private temporary file (0600 in a 0700 directory) that is removed
when the deploy ends. Every credential in it is registered as a secret before
anything is logged, so neither the file nor its tokens reach logs, outputs or
reports.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelship.ci.errors import UsageError
from modelship.ci.redact import secrets_from_kubeconfig


@dataclass(frozen=True)
class Kubeconfig:
    path: Path
    source: str  # "inline", "file" or "KUBECONFIG"
    context: str | None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. base64 content too long to be a file name
        return False


def _looks_inline(value: str) -> bool:
    return "\n" in value or value.lstrip().startswith(("apiVersion", "{", "clusters", "kind"))


def _decode(value: str) -> str:
    """Inline content as given, or decoded from base64."""
    if _looks_inline(value):
        return value
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return value
    return decoded if _looks_inline(decoded) else value


def _check(content: str, what: str) -> None:
    try:
        loaded = yaml.safe_load(content)
    except yaml.YAMLError:
        loaded = None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("clusters"), list):
        # Never quote the content: it is a secret.
        raise UsageError(
            f"{what} is not a kubeconfig (no `clusters` list)",
            "pass the kubeconfig file's path or its content (raw YAML or base64)",
        )


def _given_file(value: str, cwd: Path) -> Path | None:
    """The file `value` names, when it is a path rather than content."""
    if _looks_inline(value) or len(value) >= 4096:
        return None
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = cwd / candidate
    return candidate if _is_file(candidate) else None


def _env_file(env: Mapping[str, str]) -> tuple[Path, str] | None:
    """The kubeconfig of the environment: `$KUBECONFIG`'s first file, else ~/.kube/config."""
    env_path = env.get("KUBECONFIG", "").split(os.pathsep)[0]
    default = Path(env.get("HOME", "~")).expanduser() / ".kube" / "config"
    for candidate in (Path(env_path) if env_path else None, default):
        if candidate is not None and _is_file(candidate):
            return candidate, "KUBECONFIG" if env_path else "file"
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def mask_credentials(
    value: str | None, env: Mapping[str, str], cwd: Path, mask: Callable[[str], None]
) -> None:
    """Register every credential of the kubeconfig a deploy would use, and nothing else.

    Called before the first line that carries outside text. Only values are
    masked (a token, a password, a key; the base64 form of inline content),
    never structural lines such as `apiVersion: v1`. A kubeconfig that cannot
    be read is reported when it is used, not here.
    """
    if value:
        file = _given_file(value, cwd)
        if file is not None:
            content = _read(file)
        else:
            content = _decode(value)
            if content != value and len(value.strip()) >= 3:
                mask(value.strip())  # the base64 text decodes to the secrets
    else:
        found = _env_file(env)
        content = _read(found[0]) if found else ""
    for secret in secrets_from_kubeconfig(content):
        mask(secret)


@contextmanager
def kubeconfig(
    value: str | None,
    context: str | None,
    env: Mapping[str, str],
    cwd: Path,
    mask: Callable[[str], None],
) -> Iterator[Kubeconfig]:
    """Resolve the `kubeconfig` input; inline content lives in a private temp file meanwhile."""
    mask_credentials(value, env, cwd, mask)
    if value:
        file = _given_file(value, cwd)
        if file is not None:
            _check(_read(file), "the file given as `kubeconfig`")
            yield Kubeconfig(file, "file", context)
            return
        content = _decode(value)
        if not _looks_inline(content):
            raise UsageError(
                "input 'kubeconfig' is neither an existing file nor kubeconfig content",
                "pass a path to the file, or its content (raw YAML or base64)",
            )
        _check(content, "input 'kubeconfig'")
        with _private_file(content) as path:
            yield Kubeconfig(path, "inline", context)
        return
    found = _env_file(env)
    if found is not None:
        yield Kubeconfig(found[0], found[1], context)
        return
    raise UsageError(
        "no kubeconfig: input 'kubeconfig' is empty and no KUBECONFIG file exists",
        "pass the kubeconfig (a secret: a path or its content), or run where KUBECONFIG is set "
        "(GitLab agent for Kubernetes, a cloud login action)",
    )


@contextmanager
def _private_file(content: str) -> Iterator[Path]:
    """`content` in a 0600 file inside a 0700 directory, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="modelship-kube-"))
    try:
        os.chmod(directory, 0o700)
        path = directory / "config"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def api_client(config: Kubeconfig, mask: Callable[[str], None]) -> Any:
    """An ApiClient for the kubeconfig's context; its bearer token is masked."""
    from kubernetes import client
    from kubernetes import config as _kube_config
    from kubernetes.config.config_exception import ConfigException

    kube_config: Any = _kube_config
    configuration = client.Configuration()
    try:
        kube_config.load_kube_config(
            config_file=str(config.path),
            context=config.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except ConfigException as err:
        message = str(err)
        for line in message.splitlines():
            if "token" in line.lower():
                message = "invalid kubeconfig"
        raise UsageError(
            f"cannot use the kubeconfig: {message[:300]}",
            "check `kube-context` and the kubeconfig's contexts, clusters and users",
        ) from None
    for value in (configuration.api_key or {}).values():
        if isinstance(value, str) and value:
            mask(value.removeprefix("Bearer ").strip())
    # One quick retry, not urllib3's default of three: an unreachable cluster
    # must fail in bounded time.
    configuration.retries = 1
    return client.ApiClient(configuration)
